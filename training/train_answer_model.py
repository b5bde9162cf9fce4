"""Train the answer model (index/inference/answer_model.py) from the bundled MiniLM weights.

    make train        # = PYTHONPATH=. .venv/bin/python training/train_answer_model.py

One model, two heads over the bundled all-MiniLM-L6-v2 encoder reading (question, sentence [SEP] the
sentence before it): a logit on [CLS], "does this sentence answer the question?" (binary cross-entropy),
and start/end logits over the sentence's word pieces, "which words answer it?" (cross-entropy, on the
answering pairs only). The span head costs nothing at training time (the same forward pass) and lets the
bot show the answer inside a verbatim quote.

Data (training/answer_data.py): SQuAD v1.0 train (`squad_train_pairs`: per question its gold sentence, the
paragraph's best-matching sentence without the answer, the best-matching sentence of the article's other
paragraphs without it; 40% of questions reworded as members type), plus the SQuAD dev tune half's training
articles with their v2.0 unanswerable questions (`pairs("train")`). Never the report half.

Fast on 2 CPU cores: length-bucketed batches with dynamic padding, inputs cut at MAX_TOKENS (the context
sentence is cut first), bf16 autocast where the CPU has it, the word-piece embeddings frozen. Seeded; a
checkpoint every `--checkpoint-every` steps under ~/.cache/byline/answer-train/ (outside the repository),
from which an interrupted run resumes where it stopped. `--device cuda` uses a GPU where there is one
(the shipped weights are reproducible on the CPU). Then exported to ONNX with ONNX Runtime's BERT fusions
and quantised to int8 (dynamic, per-channel), written to index/weights/answer-sentence/ with its checksum;
training/calibrate_answer_model.py then sets the abstention threshold in the same model.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from index.inference.answer_model import CARD_FILE, MAX_TOKENS, MODEL_FILE, WEIGHTS, pair_text
from index.inference.embedding import bundled_model_path
from training.answer_data import Pair, pairs, squad_train_pairs

SEED = 2026
QUESTIONS = 60000  # of SQuAD train's 87,636: one epoch of them fits in about 80 minutes on 2 CPU cores
CACHE = Path(os.environ.get("BYLINE_TRAIN_CACHE", Path.home() / ".cache" / "byline" / "answer-train"))
SPAN_WEIGHT = 0.5  # the span loss's share beside the answers loss
IGNORE = -100
OUTPUTS = ["logits", "start_logits", "end_logits"]
TRAINED = "trained.json"  # beside the weights: pairs, steps and the training's own seconds


def encode(examples: list[Pair], tokenizer) -> list[tuple[list[int], list[int], int, int]]:
    """Per pair: word-piece ids, type ids, and the answer's first and last piece (IGNORE when the pair has
    no answer or truncation cut it)."""
    encoded = tokenizer.encode_batch([(p.question, pair_text(p.sentence, p.previous)) for p in examples])
    out = []
    for pair, e in zip(examples, encoded, strict=True):
        first = last = IGNORE
        if pair.answer is not None:
            a, b = pair.answer
            pieces = [
                t
                for t, (seq, (s, f)) in enumerate(zip(e.sequence_ids, e.offsets, strict=True))
                if seq == 1 and f > a and s < b
            ]
            if pieces and e.offsets[pieces[-1]][1] <= len(pair.sentence):
                first, last = pieces[0], pieces[-1]
        out.append((e.ids, e.type_ids, first, last))
    return out


def batches(examples: list[Pair], encoded, size: int, rng: random.Random):
    """Length-bucketed batches in random order (little padding, still shuffled); the same order for the
    same seed, so a resumed run skips exactly the batches it had done."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    pool = size * 50
    out = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(encoded[i][0]))
        out.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    rng.shuffle(out)
    return out


def tensors(rows: list[int], examples: list[Pair], encoded):
    width = max(len(encoded[i][0]) for i in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for r, i in enumerate(rows):
        pieces, type_ids, _, _ = encoded[i]
        ids[r, : len(pieces)] = pieces
        types[r, : len(pieces)] = type_ids
        mask[r, : len(pieces)] = 1
    labels = np.array([examples[i].label for i in rows], dtype=np.float32)
    firsts = np.array([encoded[i][2] for i in rows], dtype=np.int64)
    lasts = np.array([encoded[i][3] for i in rows], dtype=np.int64)
    return ids, types, mask, labels, firsts, lasts


def reader_class():
    import torch

    class AnswerReader(torch.nn.Module):
        """The encoder, a [CLS] logit (answers or not) and start/end logits per word piece."""

        def __init__(self, encoder) -> None:
            super().__init__()
            self.encoder = encoder
            width = encoder.config.hidden_size
            self.answers = torch.nn.Linear(width, 1)
            self.span = torch.nn.Linear(width, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            logits = self.answers(hidden[:, 0])
            span = self.span(hidden)
            # pieces outside the sentence segment can never start or end an answer
            outside = (token_type_ids == 0) | (attention_mask == 0)
            span = span.masked_fill(outside.unsqueeze(-1), -1e4)
            return logits, span[..., 0], span[..., 1]

    return AnswerReader


def new_reader(source: Path):
    import transformers

    encoder = transformers.BertModel.from_pretrained(str(source), add_pooling_layer=False, attn_implementation="eager")
    return reader_class()(encoder)


def training_pairs(args) -> list[Pair]:
    examples = squad_train_pairs(
        seed=SEED,
        questions_limit=args.questions,
        paragraph_negatives=args.paragraph_negatives,
        article_negatives=args.article_negatives,
        casual_share=args.casual,
    )
    if args.tune_half:
        examples += pairs("train", seed=SEED, per_paragraph=2, per_article=1, other=0, unanswerable=99)
    random.Random(SEED).shuffle(examples)
    return examples[: args.limit] if args.limit else examples


def run_key(args) -> str:
    """The checkpoint folder's name: what decides the run's data and steps (not threads or device)."""
    fields = ("questions", "paragraph_negatives", "article_negatives", "casual", "tune_half", "limit", "epochs")
    fields += ("batch", "lr", "warmup")
    facts = json.dumps({f: getattr(args, f) for f in fields}, sort_keys=True) + f"|{SEED}|{MAX_TOKENS}"
    return hashlib.sha256(facts.encode()).hexdigest()[:12]


def train(args) -> Path:
    import torch
    import transformers
    from tokenizers import Tokenizer
    from tqdm import tqdm

    transformers.logging.set_verbosity_error()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    folder = CACHE / run_key(args)
    folder.mkdir(parents=True, exist_ok=True)
    source = bundled_model_path()
    data_file = folder / "pairs.pickle"
    if data_file.exists():
        examples = pickle.loads(data_file.read_bytes())
    else:
        examples = training_pairs(args)
        _write(data_file, pickle.dumps(examples))
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)  # as at run time: the longer segment is cut first
    encoded = encode(examples, tokenizer)
    positives = sum(p.label for p in examples)
    spans = sum(e[2] != IGNORE for e in encoded)
    print(f"{len(examples)} pairs ({positives} answering, {spans} with their answer's pieces) in {folder}", flush=True)

    model = new_reader(source).to(device)
    # The word-piece embeddings stay as they are (11.7M of the 22.7M weights): Adam's step over them costs
    # time every batch, and the pieces SQuAD lacks would drift apart from those it has.
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    per_epoch = (len(examples) + args.batch - 1) // args.batch
    steps = args.epochs * per_epoch
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, int(args.warmup * steps), steps)
    done = 0
    checkpoint = folder / "checkpoint.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        done = state["step"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resuming at step {done} of {steps}", flush=True)
    bf16 = args.bf16 and (device.type == "cuda" or "avx512_bf16" in Path("/proc/cpuinfo").read_text())
    answers_loss = torch.nn.BCEWithLogitsLoss()
    span_loss = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    model.train()
    started = time.time()
    bar = tqdm(total=steps, initial=done, unit="step", smoothing=0.05, mininterval=5, dynamic_ncols=True)
    running = None
    step = 0
    for epoch in range(args.epochs):
        order = batches(examples, encoded, args.batch, random.Random(SEED + epoch))
        for rows in order:
            step += 1
            if step <= done:
                continue
            ids, types, mask, labels, firsts, lasts = (
                torch.from_numpy(x).to(device) for x in tensors(rows, examples, encoded)
            )
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits, starts, ends = model(ids, mask, types)
            loss = answers_loss(logits.float().squeeze(-1), labels)
            if bool((firsts != IGNORE).any()):
                loss = loss + SPAN_WEIGHT * (span_loss(starts.float(), firsts) + span_loss(ends.float(), lasts)) / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            value = loss.item()
            running = value if running is None else 0.98 * running + 0.02 * value
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{running:.4f}", refresh=False)
            if step % args.checkpoint_every == 0 and step < steps:
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "step": step,
                    "torch_rng": torch.get_rng_state(),
                }
                _write_torch(checkpoint, state)
    bar.close()
    model.eval()
    work = Path(tempfile.mkdtemp(prefix="answer-model."))
    torch.save(model.to("cpu").state_dict(), work / "reader.pt")
    shutil.copyfile(work / "reader.pt", folder / "reader.pt")  # kept: --export-only can start from here
    took = time.time() - started
    facts = {"pairs": len(examples), "answering": positives, "steps": steps, "seconds": round(took)}
    if done:
        facts["resumed_at_step"] = done  # `seconds` is then this run's part only
    for where in (work, folder):
        (where / TRAINED).write_text(json.dumps(facts) + "\n")
    print(f"trained on {len(examples)} pairs, {steps - done} steps in {took:.0f}s", flush=True)
    return work


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def _write_torch(path: Path, state: dict) -> None:
    import torch

    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


def export(work: Path, out: Path = WEIGHTS) -> dict:
    import onnx
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    config = transformers.BertConfig.from_pretrained(str(bundled_model_path()))
    config._attn_implementation = "eager"
    model = reader_class()(transformers.BertModel(config, add_pooling_layer=False))
    model.load_state_dict(torch.load(work / "reader.pt", map_location="cpu"))
    model.eval()
    ids = torch.tensor([[101, 2023, 2003, 102, 3231, 102], [101, 2023, 102, 2003, 102, 0]])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    traced = work / "traced.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, (ids > 0).long(), torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]])),
            str(traced),
            input_names=names,
            output_names=OUTPUTS,
            dynamic_axes={
                **{n: {0: "batch", 1: "sequence"} for n in [*names, *OUTPUTS[1:]]},
                OUTPUTS[0]: {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    fused = optimize_model(str(traced), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    proto = fused.model
    # the fused operators live in ONNX Runtime's domain; the quantiser's shape inference needs it declared
    if not any(o.domain == "com.microsoft" for o in proto.opset_import):
        proto.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    onnx.save_model(proto, str(work / "fused.onnx"))
    quantize_dynamic(
        str(work / "fused.onnx"),
        str(work / MODEL_FILE),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work / MODEL_FILE, out / MODEL_FILE)
    shutil.copyfile(work / "fused.onnx", work / "fp32.onnx")
    digest = hashlib.sha256((out / MODEL_FILE).read_bytes()).hexdigest()
    return {"sha256": digest, "bytes": (out / MODEL_FILE).stat().st_size, "fp32": str(work / "fp32.onnx")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=QUESTIONS, help="SQuAD train questions (0: all)")
    parser.add_argument("--paragraph-negatives", type=int, default=1)
    parser.add_argument("--article-negatives", type=int, default=1)
    parser.add_argument("--casual", type=float, default=0.4, help="share of questions reworded as members type")
    parser.add_argument("--no-tune-half", dest="tune_half", action="store_false", help="SQuAD train only")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N pairs only (a speed probe)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is at hand")
    parser.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in fp32")
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--export-only", type=Path, help="export the weights (reader.pt) trained into this folder")
    args = parser.parse_args()
    started = time.time()
    work = args.export_only or train(args)
    if args.no_export:
        print(f"weights in {work}")
        return
    facts = export(work)
    trained = json.loads((work / TRAINED).read_text()) if (work / TRAINED).exists() else {}
    card_path = WEIGHTS / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card.update(
        {
            "sha256": facts["sha256"],
            "bytes": facts["bytes"],
            "max_tokens": MAX_TOKENS,
            "outputs": OUTPUTS,
            "threshold": card.get("threshold", 0.5),
            "training": {
                "seed": SEED,
                "data": "SQuAD v1.0 train (squad_train_pairs) + SQuAD dev tune half, training articles (pairs)",
                "questions": args.questions,
                "paragraph_negatives": args.paragraph_negatives,
                "article_negatives": args.article_negatives,
                "casual_share": args.casual,
                "tune_half": args.tune_half,
                "epochs": args.epochs,
                "batch": args.batch,
                "lr": args.lr,
                "bf16": args.bf16,
                **trained,
                "export_seconds": round(time.time() - started) if args.export_only else None,
            },
        }
    )
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))
    print(f"fp32 copy (for the int8 check): {facts['fp32']}")
    print(f"make train took {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
