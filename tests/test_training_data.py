"""The answer model's training data (training/answer_data.py, training/train_answer_model.py): what a pair
teaches must be true of the text, or the model learns noise. A tiny SQuAD-format file stands in for
SQuAD v1.0 train; no model weights are trained here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from training.answer_data import casual, content_words, squad_train_pairs

MILL = (
    "The mill opened in 1851 on the river Wye. It was built by Thomas Evans, a local grocer. "
    "Evans sold flour to the whole valley. The river Wye floods most winters."
)
STRIKE = (
    "In 1912 the mill's workers went on strike over pay. The strike lasted six weeks. "
    "The mill closed for good in 1968 after a fire."
)


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    def qa(question: str, answer: str, context: str, n: int) -> dict:
        return {
            "id": f"q{n}",
            "question": question,
            "answers": [{"text": answer, "answer_start": context.index(answer)}],
        }

    data = {
        "version": "1.1",
        "data": [
            {
                "title": "Wye_Mill",
                "paragraphs": [
                    {"context": MILL, "qas": [qa("Who built the mill on the Wye?", "Thomas Evans", MILL, 1)]},
                    {"context": STRIKE, "qas": [qa("How long did the mill strike last?", "six weeks", STRIKE, 2)]},
                ],
            }
        ],
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    return path


def test_a_gold_pair_marks_the_answer_and_negatives_never_hold_it(squad_file: Path) -> None:
    pairs = squad_train_pairs(path=squad_file, casual_share=0.0)

    by_question: dict[str, list] = {}
    for pair in pairs:
        by_question.setdefault(pair.question, []).append(pair)
    built = by_question["Who built the mill on the Wye?"]
    gold = [p for p in built if p.label == 1]
    assert len(gold) == 1 and gold[0].sentence == "It was built by Thomas Evans, a local grocer."
    assert gold[0].sentence[slice(*gold[0].answer)] == "Thomas Evans"
    assert gold[0].previous == "The mill opened in 1851 on the river Wye.", "the sentence before is its context"
    negatives = {p.kind: p for p in built if p.label == 0}
    assert set(negatives) == {"paragraph", "article"}
    assert all("Thomas Evans" not in p.sentence and p.answer is None for p in negatives.values())
    # the hardest ones: the paragraph's and the article's sentences sharing most words with the question
    assert negatives["paragraph"].sentence == "The mill opened in 1851 on the river Wye."
    assert negatives["article"].sentence in STRIKE and "mill" in negatives["article"].sentence


def test_answer_pieces_are_found_and_a_truncated_answer_is_ignored(squad_file: Path) -> None:
    from tokenizers import Tokenizer

    from index.inference.embedding import bundled_model_path
    from training.answer_data import Pair
    from training.train_answer_model import IGNORE, encode

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    pairs = [p for p in squad_train_pairs(path=squad_file, casual_share=0.0) if p.label == 1]
    for pair, (ids, _, first, last) in zip(pairs, encode(pairs, tokenizer), strict=True):
        assert tokenizer.decode(ids[first : last + 1]) == pair.sentence[slice(*pair.answer)].lower()

    tokenizer.enable_truncation(max_length=12)
    far = Pair("who?", "x " * 40 + "Thomas Evans built it.", None, 1, "t", "gold", (80, 92))
    assert encode([far], tokenizer)[0][2:] == (IGNORE, IGNORE)


def test_casual_rewording_keeps_the_words_that_carry_the_meaning() -> None:
    rng = random.Random(3)
    question = "What is the name of the river that floods most winters?"
    reworded = [casual(question, rng) for _ in range(50)]
    assert len(set(reworded)) > 5, "members type in many ways"
    assert all(content_words(question) <= content_words(r) for r in reworded)
