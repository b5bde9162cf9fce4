"""Atomic cache files: a JSON header line (what the cache was built from, and a checksum of the payload)
followed by the payload bytes. Written to a temporary name and renamed, so a reader sees the old file or
the new one, never half of one; a missing, truncated or mismatched file reads as None (rebuild).

A writer holds an advisory lock on its temporary file until the rename, so a temporary file nobody holds is
the leftover of a killed writer and `remove_leftovers` may delete it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; leftovers are then judged by age alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def write(path: Path, header: dict[str, Any], payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = dict(header, sha256=hashlib.sha256(payload).hexdigest(), length=len(payload))
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released by close, after the rename
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


# A temporary file this young may belong to a writer between creating it and locking it.
LEFTOVER_MIN_AGE = 1.0
# Without advisory locks, only a file this old is assumed abandoned (no cache takes minutes to write).
LEFTOVER_UNLOCKED_AGE = 600.0


def remove_leftovers(directory: Path) -> list[Path]:
    """Delete the temporary files of writers that died before renaming them (a SIGKILL or a power cut
    skips the cleanup in `write`); a file still locked by a live writer, or too young to tell, is kept."""
    removed = []
    now = time.time()
    for tmp in sorted(directory.glob("*.tmp")) if directory.is_dir() else []:
        try:
            age = now - tmp.stat().st_mtime
            if age < (LEFTOVER_MIN_AGE if fcntl is not None else LEFTOVER_UNLOCKED_AGE):
                continue
            with tmp.open("rb") as handle:
                if fcntl is not None:
                    try:
                        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live writer holds it
                tmp.unlink()
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
        removed.append(tmp)
    return removed
