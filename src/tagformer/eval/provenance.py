"""What an evaluation was computed on: the split, the dataset's files and a content fingerprint.

``tagformer evaluate`` records this in ``metrics.json`` (key ``evaluated_on``) and ``tagformer compare``
groups and labels rows by it, so that numbers measured on different splits or datasets are never averaged
into one row. The fingerprint hashes each file's size and 64 KiB blocks at eleven evenly spaced offsets
(start and end included): cheap for JetClass-size files, it tells different datasets and edited files
apart, while a copy of the same file (another path, another modification time) keeps its fingerprint.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

BLOCK = 64 * 1024
SAMPLES = 11


def file_fingerprint(path: str | Path, digest: Any) -> None:
    """Feed ``path``'s size and sampled blocks into ``digest`` (a hashlib object)."""
    size = os.path.getsize(path)
    digest.update(size.to_bytes(8, "little"))
    offsets = [0] if size <= BLOCK else sorted({(size - BLOCK) * i // (SAMPLES - 1) for i in range(SAMPLES)})
    with open(path, "rb") as fh:
        for offset in offsets:
            fh.seek(offset)
            digest.update(fh.read(BLOCK))


def describe_files(files: list[str], *, path: str) -> dict[str, Any]:
    """``{"path", "files", "bytes", "fingerprint"}`` of a dataset given as ``path`` and resolved to ``files``
    (the fingerprint ignores file names and order of listing: the files are hashed sorted by content)."""
    parts = []
    for name in files:
        digest = hashlib.sha256()
        file_fingerprint(name, digest)
        parts.append(digest.hexdigest())
    total = hashlib.sha256("".join(sorted(parts)).encode()).hexdigest()
    return {"path": str(path), "files": len(files), "bytes": int(sum(os.path.getsize(f) for f in files)),
            "fingerprint": total[:16]}


def evaluation_label(metrics: dict[str, Any]) -> str:
    """A short, stable name of what ``metrics`` were computed on, e.g. ``test of tiny.h5 [3f2a9c1b]``.

    ``metrics.json`` written before ``evaluated_on`` existed falls back to its ``split`` and ``data`` path
    (``?`` where unknown)."""
    where = metrics.get("evaluated_on") or {}
    split = where.get("split") or metrics.get("split") or "?"
    dataset = where.get("dataset") or {}
    path = dataset.get("path") or metrics.get("data") or "?"
    name = Path(str(path).rstrip("/")).name or str(path)
    fingerprint = dataset.get("fingerprint")
    split_def = where.get("split_definition")
    text = f"{split} of {name}"
    if split_def:
        text += f" ({split_def})"
    return f"{text} [{fingerprint[:8]}]" if fingerprint else text
