"""``plot``: an LLM writes a plotting script against the hint files, the script runs in a scratch
directory with a time limit (:mod:`tagformer.assist.sandbox`), its errors go back to the LLM for up to N
attempts; the PNG, the code of every attempt and the transcript are saved."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tagformer.assist.llm import LLM
from tagformer.assist.sandbox import RunResult, run_script
from tagformer.atomic import atomic_write_json, atomic_write_text
from tagformer.errors import ConfigError, DataError

_CODE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)
_OPEN = re.compile(r"```(?:python|py)?\s*\n(.*)$", re.S)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def hint_texts(folder: str | Path | None = None) -> list[tuple[str, str]]:
    """(name, text) of the hint files: the packaged ones, or every ``*.md`` of ``folder``."""
    root = Path(folder) if folder else Path(str(resources.files("tagformer.assist") / "hints"))
    files = sorted(root.glob("*.md"))
    if not files:
        raise ConfigError(f"{root}: no hint files (*.md).")
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


def extract_code(reply: str) -> str:
    """The longest fenced Python block of the reply; a block left open (a reply cut by its token limit) runs
    to the end; else the whole reply."""
    blocks = _CODE.findall(reply)
    if blocks:
        return max(blocks, key=len).strip() + "\n"
    opened = _OPEN.search(reply)
    return (opened.group(1) if opened else reply).strip() + "\n"


def first_messages(request: str, data: Path, hints: list[tuple[str, str]]) -> list[dict[str, str]]:
    system = ("You write Python plotting scripts for particle physicists. Reply with one complete script in a "
              "```python fenced block and nothing else. Follow these hint files exactly.\n\n"
              + "\n\n".join(f"## hint file {name}\n{text}" for name, text in hints))
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"Request: {request}\nData file (TAGFORMER_PLOT_DATA): {data.resolve()}"}]


def _failure(result: RunResult, scratch: Path, timeout_s: float) -> str | None:
    """Why an attempt failed (None when it made a PNG)."""
    if result.timed_out:
        return f"the script ran past its time limit of {timeout_s:g} s and was stopped."
    if result.returncode != 0:
        return f"the script failed (exit status {result.returncode}):\n{result.stderr[-3000:]}"
    png = scratch / "plot.png"
    if not png.is_file() or png.read_bytes()[:8] != PNG_MAGIC:
        return "the script ran but did not write a PNG file named plot.png in the current directory."
    return None


def error_summary(error: str) -> str:
    """One line for an attempt's failure: the first line, and the exception line of a traceback."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return f"{lines[0]} {last}" if len(lines) > 1 and re.match(r"^[A-Za-z_.]*(Error|Exception)\b", last) else lines[0]


@dataclass
class PlotResult:
    """The outcome: success, attempts used, and the saved files."""

    ok: bool
    attempts: int
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    last_error: str = ""


def plot_loop(request: str, data: str | Path, llm: LLM, out_dir: str | Path, *, attempts: int = 3,
              timeout_s: float = 60.0, hints_dir: str | Path | None = None, log=print) -> PlotResult:
    """Ask, run, feed errors back, up to ``attempts`` times. Saves ``OUT/plot.png`` (on success),
    ``OUT/plot.py`` (the last code, working or not), ``OUT/attempt-N.py``, ``OUT/histogram.json`` (when the script wrote
    one) and ``OUT/transcript.json`` / ``OUT/transcript.md``."""
    if not request.strip():
        raise ConfigError("the plot request is empty.")
    if attempts < 1:
        raise ConfigError("--attempts must be at least 1.")
    data, out = Path(data), Path(out_dir)
    if not data.exists():
        raise DataError(f"{data}: no such data file.")
    out.mkdir(parents=True, exist_ok=True)
    messages = first_messages(request, data, hint_texts(hints_dir))
    runs: list[dict] = []
    result = PlotResult(ok=False, attempts=0, out_dir=out)
    for n in range(1, attempts + 1):
        reply = llm.chat(messages)
        code = extract_code(reply)
        scratch = out / "scratch" / f"attempt-{n}"
        if scratch.exists():
            shutil.rmtree(scratch)
        run = run_script(code, scratch, data, timeout_s)
        error = _failure(run, scratch, timeout_s)
        result.files.append(atomic_write_text(out / f"attempt-{n}.py", code))
        runs.append({"attempt": n, "returncode": run.returncode, "timed_out": run.timed_out,
                     "seconds": round(run.seconds, 2), "stdout": run.stdout[-2000:], "stderr": run.stderr[-3000:],
                     "error": error})
        messages = [*messages, {"role": "assistant", "content": reply}]
        result.attempts = n
        log(f"attempt {n}: {'ok' if error is None else error_summary(error)} ({run.seconds:.1f} s)")
        if error is None:
            result.ok = True
            shutil.copyfile(scratch / "plot.png", out / "plot.png")
            result.files.append(out / "plot.png")
            if (scratch / "histogram.json").is_file():
                shutil.copyfile(scratch / "histogram.json", out / "histogram.json")
                result.files.append(out / "histogram.json")
            break
        result.last_error = error
        messages.append({"role": "user", "content": f"That script did not work: {error}\nReply with the full "
                                                    "corrected script in a ```python block."})
    if result.attempts:
        result.files.append(atomic_write_text(out / "plot.py", code))
    atomic_write_json(out / "transcript.json", {"request": request, "data": str(data.resolve()), "model": llm.model,
                                                "ok": result.ok, "messages": messages, "runs": runs})
    md = [f"# plot: {request}", "", f"model {llm.model}; data {data}; {'succeeded' if result.ok else 'failed'} "
          f"after {result.attempts} attempt(s)", ""]
    for m in messages[1:]:
        md += [f"## {m['role']}", "", m["content"], ""]
    md += ["## runs", "", "```json", json.dumps(runs, indent=1), "```", ""]
    result.files += [out / "transcript.json", atomic_write_text(out / "transcript.md", "\n".join(md))]
    return result
