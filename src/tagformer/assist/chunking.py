"""Text extraction (PDF pages with pypdf, text files) and chunking into passages that remember where they
came from (page for PDFs, line for text files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".pdf", ".txt", ".md")


@dataclass(frozen=True)
class Piece:
    """One passage: its text and location (``page`` 1-based for PDFs, else None; ``line`` 1-based)."""

    text: str
    page: int | None
    line: int


def chunk_lines(lines: list[str], page: int | None, size: int = 160, overlap: int = 2) -> list[Piece]:
    """Consecutive lines grouped into passages of about ``size`` words, breaking at blank lines where one
    is near; the last ``overlap`` lines of a passage start the next one."""
    out: list[Piece] = []
    start, words = 0, 0
    for i, line in enumerate(lines):
        words += len(line.split())
        paragraph_end = not line.strip() and words >= size // 2
        if words >= size or paragraph_end or i == len(lines) - 1:
            text = " ".join(" ".join(lines[start:i + 1]).split())
            if text:
                out.append(Piece(text=text, page=page, line=start + 1))
            nxt = i + 1 if paragraph_end or i - overlap + 1 <= start else i - overlap + 1
            start, words = nxt, sum(len(x.split()) for x in lines[nxt:i + 1])
    return out


def extract(path: Path) -> list[Piece]:
    """The passages of one file. Raises ValueError with the reason when the file cannot be read."""
    if path.suffix.lower() == ".pdf":
        try:
            from pypdf import PdfReader
        except ImportError:
            raise ValueError("reading PDFs needs pypdf: pip install 'tagformer[assist]'") from None
        try:
            reader = PdfReader(str(path))
            pages = [p.extract_text() or "" for p in reader.pages]
        except Exception as exc:  # pypdf raises many kinds on damaged files
            raise ValueError(f"{type(exc).__name__}: {str(exc)[:120]}") from None
        pieces = [p for n, text in enumerate(pages, 1) for p in chunk_lines(text.splitlines(), n)]
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{type(exc).__name__}: {str(exc)[:120]}") from None
        pieces = chunk_lines(text.splitlines(), None)
    if not pieces:
        raise ValueError("no text found (a scanned PDF without a text layer?)")
    return pieces
