"""Atomic cache files: a JSON header line (what the cache was built from, and a checksum of the payload)
followed by the payload bytes. Written to a temporary name and renamed, so a reader sees the old file or
the new one, never half of one; a missing, truncated or mismatched file reads as None (rebuild)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write(path: Path, header: dict[str, Any], payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = dict(header, sha256=hashlib.sha256(payload).hexdigest(), length=len(payload))
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(head, sort_keys=True).encode() + b"\n")
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path, expect: dict[str, Any]) -> bytes | None:
    """The payload if the file exists, is intact and its header matches `expect`; else None."""
    try:
        with path.open("rb") as handle:
            header = json.loads(handle.readline())
            payload = handle.read()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cache %s unreadable (%s); it will be rebuilt", path, exc)
        return None
    stale = {k: (header.get(k), v) for k, v in expect.items() if header.get(k) != v}
    if stale:
        log.info("cache %s is stale %s; it will be rebuilt", path.name, stale)
        return None
    if header.get("length") != len(payload) or header.get("sha256") != hashlib.sha256(payload).hexdigest():
        log.warning("cache %s is corrupt; it will be rebuilt", path)
        return None
    return payload
