"""The library store: one SQLite file (stdlib ``sqlite3``) with documents, passages, their vectors and an
FTS5 keyword index. Ingestion is incremental and resumable: each document is committed in one transaction
(the document row last), so a killed ingestion leaves only whole documents, and a rerun skips every file
whose content hash is already indexed."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tagformer.assist.cache import file_sha256
from tagformer.assist.chunking import SUFFIXES, extract
from tagformer.assist.embed import Embedder
from tagformer.errors import DataError

STORE_NAME = ".assist-index.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,
                                      pages INTEGER, chunks INTEGER NOT NULL, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, page INTEGER,
                                   line INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, tokenize='porter unicode61');
"""


@dataclass
class IngestStats:
    """What one ingestion did."""

    added: list[str] = field(default_factory=list)
    skipped: int = 0  # already indexed (same content hash)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks: int = 0


def open_store(path: str | Path) -> sqlite3.Connection:
    """Open (creating) the store; WAL journal so a killed writer never leaves a half document."""
    try:
        conn = sqlite3.connect(str(path))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
    except sqlite3.OperationalError as exc:
        raise DataError(f"{path}: cannot open the library store ({exc}).") from None
    return conn


def library_files(folder: Path, store: Path) -> list[Path]:
    """The PDFs and text files under ``folder`` (recursively, sorted), without the store itself."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such library folder.")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                  and not p.name.startswith(".") and p.resolve() != store.resolve())


def _reembed(conn: sqlite3.Connection, embedder: Embedder, log: Callable[[str], None]) -> None:
    """Make the stored vectors the current embedder's (after a change of embedder)."""
    row = conn.execute("SELECT value FROM meta WHERE key='embedder'").fetchone()
    if row and row[0] == embedder.name:
        return
    ids_texts = conn.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
    if ids_texts:
        log(f"re-embedding {len(ids_texts)} passages for {embedder.name} (the store had {row[0] if row else '?'})")
    with conn:
        for start in range(0, len(ids_texts), 256):
            part = ids_texts[start:start + 256]
            vecs = embedder.encode([t for _, t in part])
            conn.executemany("UPDATE chunks SET vector=? WHERE id=?", [(v, i) for v, (i, _) in zip(vecs, part)])
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (embedder.name,))


def _add_document(conn: sqlite3.Connection, path: Path, rel: str, digest: str, embedder: Embedder) -> int:
    pieces = extract(path)
    vectors = embedder.encode([p.text for p in pieces])
    with conn:  # one transaction: all of the document or nothing
        conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT c.id FROM chunks c JOIN documents d "
                     "ON c.doc_id=d.id WHERE d.path=?)", (rel,))
        conn.execute("DELETE FROM chunks WHERE doc_id IN (SELECT id FROM documents WHERE path=?)", (rel,))
        conn.execute("DELETE FROM documents WHERE path=?", (rel,))  # a changed file replaces its old version
        doc_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM documents").fetchone()[0]
        for piece, vector in zip(pieces, vectors):
            cur = conn.execute("INSERT INTO chunks (doc_id, page, line, text, vector) VALUES (?, ?, ?, ?, ?)",
                               (doc_id, piece.page, piece.line, piece.text, vector))
            conn.execute("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", (cur.lastrowid, piece.text))
        pages = max((p.page or 0) for p in pieces) or None
        conn.execute("INSERT INTO documents (id, path, sha256, pages, chunks, added) VALUES (?, ?, ?, ?, ?, ?)",
                     (doc_id, rel, digest, pages, len(pieces), time.time()))
    return len(pieces)


def ingest(folder: str | Path, store: str | Path, embedder: Embedder, *,
           progress: Callable[[Iterable], Iterable] = iter, log: Callable[[str], None] = print) -> IngestStats:
    """Index the new or changed files of ``folder`` into ``store``; unreadable files are skipped (warned
    and counted)."""
    folder, store = Path(folder), Path(store)
    files = library_files(folder, store)
    conn = open_store(store)
    stats = IngestStats()
    try:
        _reembed(conn, embedder, log)
        known = {row[0] for row in conn.execute("SELECT sha256 FROM documents")}
        for path in progress(files):
            digest = file_sha256(path)
            if digest in known:
                stats.skipped += 1
                continue
            rel = str(path.relative_to(folder))
            try:
                stats.chunks += _add_document(conn, path, rel, digest, embedder)
            except ValueError as exc:
                stats.unreadable.append((rel, str(exc)))
                log(f"warning: skipped {rel}: {exc}")
                continue
            known.add(digest)
            stats.added.append(rel)
    finally:
        conn.close()
    return stats


@dataclass(frozen=True)
class Passage:
    """A stored passage with its citation."""

    id: int
    path: str
    page: int | None
    line: int
    text: str

    def cite(self) -> str:
        """``doc.pdf p. 3`` or ``notes.md l. 12``."""
        return f"{self.path} p. {self.page}" if self.page else f"{self.path} l. {self.line}"


def all_passages(conn: sqlite3.Connection) -> tuple[list[Passage], list[bytes]]:
    rows = conn.execute("SELECT c.id, d.path, c.page, c.line, c.text, c.vector FROM chunks c "
                        "JOIN documents d ON c.doc_id = d.id ORDER BY c.id").fetchall()
    return [Passage(*r[:5]) for r in rows], [r[5] for r in rows]
