"""Train the answer-sentence model (index/answer_model.py) from the bundled MiniLM weights.

    make train        # = PYTHONPATH=. .venv/bin/python training/train_answer_model.py

Seeded and single-process, on the CPU: the pairs of training/answer_data.py (tune half, training
articles only), a cross-encoder = the bundled all-MiniLM-L6-v2 encoder + a linear head on [CLS],
binary cross-entropy, AdamW with linear warm-up and decay, one epoch. Then exported to ONNX with ONNX
Runtime's BERT fusions and quantised to int8 (dynamic, per-channel weights), written to
index/weights/answer-sentence/ with its checksum; training/calibrate_answer_model.py then sets the
abstention threshold in the same model.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from index.answer_model import CARD_FILE, MAX_TOKENS, MODEL_FILE, WEIGHTS, pair_text
from index.embedding import bundled_model_path
from training.answer_data import Pair, pairs

SEED = 2026


def batches(examples: list[Pair], tokenizer, size: int, rng: random.Random):
    """Length-bucketed batches in random order (little padding, still shuffled)."""
    encoded = tokenizer.encode_batch([(p.question, pair_text(p.sentence, p.previous)) for p in examples])
    order = list(range(len(examples)))
    rng.shuffle(order)
    pool = size * 50
    out = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(encoded[i].ids))
        out.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    rng.shuffle(out)
    for rows in out:
        width = max(len(encoded[i].ids) for i in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for r, i in enumerate(rows):
            e = encoded[i]
            ids[r, : len(e.ids)] = e.ids
            types[r, : len(e.ids)] = e.type_ids
            mask[r, : len(e.ids)] = 1
        labels = np.array([examples[i].label for i in rows], dtype=np.float32)
        yield ids, types, mask, labels


def train(args) -> Path:
    import torch
    import transformers
    from tokenizers import Tokenizer

    transformers.logging.set_verbosity_error()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    source = bundled_model_path()
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    examples = pairs(
        "train",
        seed=SEED,
        per_paragraph=args.per_paragraph,
        per_article=args.per_article,
        other=args.other,
        unanswerable=args.unanswerable,
    )
    if args.retrieved or args.candidates:
        from bench.squad_collection import DATA_DIR, build
        from index import Engine, EngineSettings
        from training.answer_data import candidate_pairs, retrieved_negatives

        if not (DATA_DIR / "byline.sqlite3").exists():
            build(DATA_DIR)
        engine = Engine(EngineSettings(data_dir=DATA_DIR, answer_model=False))
        extra = []
        if args.retrieved:
            extra += retrieved_negatives("train", engine, per_question=args.retrieved)
        if args.candidates:
            extra += candidate_pairs("train", engine, per_question=args.candidates)
        engine.close()
        print(f"{len(extra)} pairs from the collection (retrieved near misses, run-time candidates)", flush=True)
        examples = examples + extra
        random.Random(SEED).shuffle(examples)
    if args.limit:
        examples = examples[: args.limit]
    start = args.start_from / "torch" if args.start_from else source
    model = transformers.BertForSequenceClassification.from_pretrained(
        str(start), num_labels=1, attn_implementation="eager"
    )
    # The word-piece embeddings stay as they are (11.7M of the 22.7M weights): a QA set this small would
    # move only the pieces it happens to contain, and Adam's step over them costs time every batch.
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()
    steps = args.epochs * ((len(examples) + args.batch - 1) // args.batch)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, int(args.warmup * steps), steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = random.Random(SEED)
    started = time.time()
    step = 0
    running = 0.0
    for epoch in range(args.epochs):
        for ids, types, mask, labels in batches(examples, tokenizer, args.batch, rng):
            logits = model(
                input_ids=torch.from_numpy(ids),
                token_type_ids=torch.from_numpy(types),
                attention_mask=torch.from_numpy(mask),
            ).logits.squeeze(-1)
            loss = loss_fn(logits, torch.from_numpy(labels))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            running = 0.98 * running + 0.02 * float(loss) if step > 1 else float(loss)
            if step % 50 == 0 or step == steps:
                took = time.time() - started
                print(
                    f"epoch {epoch + 1} step {step}/{steps} loss {running:.4f} {took:.0f}s "
                    f"(about {took / step * (steps - step):.0f}s left)",
                    flush=True,
                )
    model.eval()
    work = Path(tempfile.mkdtemp(prefix="answer-model."))
    model.save_pretrained(work / "torch")
    print(f"trained on {len(examples)} pairs in {time.time() - started:.0f}s", flush=True)
    return work


def export(work: Path, out: Path = WEIGHTS) -> dict:
    import onnx
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    model = transformers.BertForSequenceClassification.from_pretrained(
        str(work / "torch"), attn_implementation="eager"
    ).eval()

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    ids = torch.tensor([[101, 2023, 2003, 102, 3231, 102], [101, 2023, 102, 2003, 102, 0]])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    traced = work / "traced.onnx"
    with torch.no_grad():
        torch.onnx.export(
            Logits(model),
            (ids, (ids > 0).long(), torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]])),
            str(traced),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "logits"]},
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
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--limit", type=int, default=0, help="train on the first N pairs only (a speed probe)")
    parser.add_argument("--per-paragraph", type=int, default=3, help="negatives from the question's paragraph")
    parser.add_argument("--per-article", type=int, default=1, help="negatives from the article's other paragraphs")
    parser.add_argument("--other", type=int, default=1, help="negatives from other articles")
    parser.add_argument("--unanswerable", type=int, default=99, help="sentences per unanswerable question")
    parser.add_argument("--retrieved", type=int, default=0, help="retrieved near misses per question")
    parser.add_argument(
        "--candidates", type=int, default=0, help="the cheap scoring's best N sentences per question, labelled"
    )
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--start-from", type=Path, help="continue from the weights trained into this folder")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--export-only", type=Path, help="export the weights trained into this folder")
    args = parser.parse_args()
    started = time.time()
    work = args.export_only or train(args)
    if args.no_export:
        print(f"weights in {work}")
        return
    facts = export(work)
    card_path = WEIGHTS / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card.update(
        {
            "sha256": facts["sha256"],
            "bytes": facts["bytes"],
            "max_tokens": MAX_TOKENS,
            "threshold": card.get("threshold", 0.5),
            "training": {
                "seed": SEED,
                "epochs": args.epochs,
                "batch": args.batch,
                "lr": args.lr,
                "pairs": "training/answer_data.py pairs('train')",
                "seconds": round(time.time() - started),
            },
        }
    )
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))
    print(f"fp32 copy (for the int8 check): {facts['fp32']}")
    print(f"make train took {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
