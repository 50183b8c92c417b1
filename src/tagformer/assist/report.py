"""Ranked contributions as markdown, CSV and one self-contained HTML table (sorted by interest)."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from tagformer.assist.schema import Ranked
from tagformer.atomic import atomic_write_text

COLUMNS = ("interest", "score", "title", "experiment", "summary", "keywords", "explanation", "confidence",
           "unknown_terms", "authors", "date", "id", "url", "method")


def _row(r: Ranked) -> dict[str, str]:
    a, c = r.assessment, r.contribution
    return {"interest": a.interest, "score": f"{r.score:.3f}", "title": c.title, "experiment": a.experiment,
            "summary": a.summary, "keywords": "; ".join(a.keywords), "explanation": a.explanation,
            "confidence": "" if a.confidence is None else f"{a.confidence:.2f}",
            "unknown_terms": "; ".join(a.unknown_terms), "authors": ", ".join(c.authors[:6]) +
            (" et al." if len(c.authors) > 6 else ""), "date": c.date, "id": c.id, "url": c.url, "method": r.method}


def _methods(items: list[Ranked]) -> str:
    return ", ".join(sorted({r.method for r in items})) or "none"


def to_csv(items: list[Ranked]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(_row(r) for r in items)
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(items: list[Ranked], title: str) -> str:
    lines = [f"# {title}", "", f"{len(items)} contributions; ranked by {_methods(items)}.", "",
             "| interest | score | title | experiment | keywords | why |", "|---|---:|---|---|---|---|"]
    for r in items:
        d = _row(r)
        link = f"[{_md(d['title'])}]({d['url']})" if d["url"] else _md(d["title"])
        lines.append(f"| {d['interest']} | {d['score']} | {link} | {_md(d['experiment'])} | {_md(d['keywords'])} "
                     f"| {_md(d['explanation'])} |")
    return "\n".join(lines) + "\n"


_STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}"
          "td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}th{background:#eee}"
          ".high{background:#d9f2d9}.medium{background:#fff5cc}.low{background:#f4f4f4}")


def to_html(items: list[Ranked], title: str) -> str:
    """One HTML file with inline CSS, no script or external resource."""
    shown = ("interest", "score", "title", "experiment", "summary", "keywords", "explanation", "confidence",
             "unknown_terms", "authors", "date")
    head = "".join(f"<th>{c}</th>" for c in shown)
    rows = []
    for r in items:
        d = _row(r)
        cells = []
        for c in shown:
            value = html.escape(d[c])
            if c == "title" and d["url"]:
                value = f'<a href="{html.escape(d["url"], quote=True)}">{value}</a>'
            cells.append(f"<td>{value}</td>")
        rows.append(f'<tr class="{d["interest"]}">{"".join(cells)}</tr>')
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{len(items)} contributions; ranked by {html.escape(_methods(items))}.</p>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table></body></html>\n")


def write_reports(items: list[Ranked], out_dir: str | Path, title: str = "Ranked contributions") -> list[Path]:
    """``OUT/ranked.md``, ``OUT/ranked.csv`` and ``OUT/ranked.html``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(out / "ranked.md", to_markdown(items, title)),
            atomic_write_text(out / "ranked.csv", to_csv(items)),
            atomic_write_text(out / "ranked.html", to_html(items, title))]
