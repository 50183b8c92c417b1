"""Local files of abstracts: JSON lines (``.jsonl``), markdown (``.md``) or plain text (``.txt``).

- ``.jsonl``: one object per line with ``title`` and ``abstract`` (optional ``id, authors, url, date``).
- ``.md``: each ``## Title`` heading starts a contribution; the text under it (up to the next heading) is
  its abstract.
- ``.txt``: one abstract per line; the title is the line's first sentence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pydantic

from tagformer.assist.schema import Contribution
from tagformer.errors import DataError


def _first_sentence(text: str) -> str:
    head = text.split(". ", 1)[0].strip().rstrip(".")
    return head if len(head) <= 120 else head[:117] + "..."


def _jsonl(path: Path, lines: list[str]) -> list[Contribution]:
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            raw.setdefault("id", f"{path.name}:{n}")
            raw.setdefault("source", f"file:{path.name}")
            out.append(Contribution.model_validate(raw))
        except (ValueError, pydantic.ValidationError, AttributeError) as exc:
            raise DataError(f"{path}:{n}: not a JSON object with 'title' and 'abstract' "
                            f"({str(exc).splitlines()[0][:120]}).") from None
    return out


def _markdown(path: Path, lines: list[str]) -> list[Contribution]:
    out: list[Contribution] = []
    title, body = None, []
    for line in [*lines, "## "]:
        if line.startswith("## "):
            if title:
                out.append(Contribution(id=f"{path.name}:{len(out) + 1}", title=title,
                                        abstract=" ".join(" ".join(body).split()), source=f"file:{path.name}"))
            title, body = line[3:].strip(), []
        elif title is not None:
            body.append(line)
    return out


def _text(path: Path, lines: list[str]) -> list[Contribution]:
    return [Contribution(id=f"{path.name}:{n}", title=_first_sentence(line), abstract=line.strip(),
                         source=f"file:{path.name}") for n, line in enumerate(lines, 1) if line.strip()]


def read_abstracts(path: str | Path) -> list[Contribution]:
    """The contributions of one local file, by suffix (see the module docstring).

    Raises
    ------
    DataError
        If the file is missing, has an unknown suffix, a malformed line, or no contribution.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file of abstracts.")
    readers = {".jsonl": _jsonl, ".md": _markdown, ".txt": _text}
    reader = readers.get(p.suffix.lower())
    if reader is None:
        raise DataError(f"{p}: unknown suffix; files of abstracts are .jsonl, .md or .txt.")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot be read as UTF-8 text ({exc}).") from None
    found = reader(p, lines)
    if not found:
        raise DataError(f"{p}: no contribution found.")
    return found
