"""Structural seams: the folder layering, and the single places where run files, atomic writes, the hls4ml
feature list, tracing checks and FLOP counting are spelled."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tagformer"

#: Lower numbers sit lower: a module may import tagformer modules of its own rank or below, not above.
#: Same-rank imports across different folders of rank 6 (train, eval, export) are not allowed either.
RANKS = {"errors": 0, "kinematics": 0, "atomic": 0, "tracing": 0, "data": 1, "models": 2, "config": 3,
         "tasks": 3, "rundir": 4, "bench": 5, "train": 6, "eval": 6, "export": 6, "quickstart": 7, "search": 7,
         "pretrain": 7, "assist": 7, "cli": 8, "__main__": 9, "__init__": 9}


def _part(module: str) -> str:
    """``tagformer.data.features`` -> ``data``; ``tagformer.rundir`` -> ``rundir``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``tagformer`` import in ``path``, at module level or inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "tagformer" else [f"tagformer.{a.name}" for a in node.names]
            out += [(node.lineno, n) for n in names if n.startswith("tagformer")]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("tagformer")]
    return out


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_top_level_part_has_a_rank() -> None:
    parts = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _sources()}
    assert not parts - set(RANKS) - {"configs"}, f"give these a layer in RANKS: {sorted(parts - set(RANKS))}"


def test_folders_import_only_downwards() -> None:
    bad = []
    for path in _sources():
        rel = path.relative_to(SRC)
        here = rel.parts[0].removesuffix(".py")
        for line, module in _imports(path):
            if module == "tagformer":  # the package itself (its version)
                continue
            there = _part(module)
            if there == here or RANKS.get(there) is None or RANKS.get(here) is None:
                continue
            if RANKS[there] > RANKS[here] or (RANKS[there] == RANKS[here] == 6):
                bad.append(f"{rel}:{line} imports {module}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_bench_measure_and_profile_do_not_import_each_other_both_ways() -> None:
    measure = {m for _, m in _imports(SRC / "bench" / "measure.py")}
    assert "tagformer.bench.profile" not in measure


def _grep(pattern: str, paths: list[Path]) -> list[str]:
    regex = re.compile(pattern)
    return [f"{p.relative_to(ROOT)}:{i}" for p in paths for i, line in enumerate(p.read_text().splitlines(), 1)
            if regex.search(line)]


def test_no_source_or_doc_cites_the_design_notes() -> None:
    paths = [*_sources(), ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert not _grep(r"DESIGN\.md", paths)


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"os\.replace\(", "atomic.py"),  # atomic writes
        (r'"costhetarel"', "data/hls4ml_layout.py"),  # the hls4ml 16-feature list
        (r"is_exporting\(\)|is_compiling\(\)|jit\.is_tracing\(\)|_get_current_dispatch_mode", "tracing.py"),
        (r"FlopCounterMode\(", "bench/flops.py"),  # one FLOP count
        (r"p\.numel\(\) for p in", "bench/flops.py"),  # one parameter count
        (r'"(config\.yaml|normaliser\.json|dataset\.json|checkpoints|last\.ckpt|best\.pt|metrics\.csv|'
         r'wall_time\.json|logs|summary\.json|metrics\.json|roc\.png|confusion\.png)"', "rundir.py"),  # run layout
    ],
)
def test_one_home(pattern: str, home: str) -> None:
    hits = _grep(pattern, _sources())
    assert hits and all(h.startswith(f"src/tagformer/{home}:") for h in hits), hits
