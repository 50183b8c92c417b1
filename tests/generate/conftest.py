"""Small generated samples shared by the generation tests (made once per session through the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

#: A small 5-class sample at default physics settings (physics checks with wide tolerances).
PHYSICS_ARGS = ["--jets-per-class", "40", "--shard-size", "40", "--workers", "1", "--no-progress", "--seed", "3"]
#: A tiny two-class sample with several shards (determinism, resume, merge).
TINY_ARGS = ["--classes", "w,g", "--jets-per-class", "6", "--shard-size", "3", "--seed", "5", "--no-progress"]


def run_cli(*argv: str) -> int:
    from tagformer.cli.main import main

    return main(list(argv))


@pytest.fixture(scope="session")
def physics_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("physics") / "jets.h5"
    assert run_cli("generate", str(out), *PHYSICS_ARGS) == 0
    return out


@pytest.fixture(scope="session")
def tiny_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "tiny.h5"
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1") == 0
    return out


def write_parts(out: Path, **overrides) -> Path:
    """A parts directory for ``out`` holding only the settings.json of TINY_ARGS (plus ``overrides``)."""
    from tagformer.data.generate.config import make_config

    args = dict(output=out, classes="w,g", jets_per_class=6, shard_size=3, seed=5, **overrides)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir()
    (parts / "settings.json").write_text(json.dumps(make_config(**args).physics_settings()))
    return parts


def read_arrays(path: Path):
    import h5py

    with h5py.File(path, "r") as f:
        return f["jetConstituentList"][...], f["jets"][...]
