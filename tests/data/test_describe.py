"""describe(): counts per class, multiplicity and ranges on every format."""

from __future__ import annotations

import numpy as np
import pytest

from tagformer.data import describe


@pytest.mark.parametrize("kind,suffix,fmt", [("hls4ml", ".h5", "hls4ml"), ("jetclass", ".root", "jetclass"),
                                             ("top", ".h5", "toptagging"), ("qg", ".npz", "quarkgluon")])
def test_describe_every_format(tmp_path, writers, kind, suffix, fmt):
    path = str(tmp_path / f"d{suffix}")
    truth = getattr(writers, kind)(path, n=9)
    d = describe(path, chunk_size=4)
    assert d.format == fmt and d.jets == 9
    assert list(d.class_counts.values()) == np.bincount(truth.labels, minlength=len(d.class_counts)).tolist()
    n_real = truth.mask.sum(1)
    assert d.multiplicity["max"] == n_real.max() and d.multiplicity["min"] == n_real.min()
    assert d.multiplicity["mean"] == pytest.approx(n_real.mean())
    assert d.particle_ranges["pt"].max == pytest.approx(truth.pt.max(), rel=1e-4)
    text = str(d)
    assert fmt in text and "particles per jet" in text
    assert d.as_dict()["jets"] == 9


def test_describe_max_jets(tmp_path, writers):
    writers.hls4ml(str(tmp_path / "a.h5"), n=10)
    writers.hls4ml(str(tmp_path / "b.h5"), n=10, seed=1)
    assert describe(str(tmp_path), max_jets=13, chunk_size=4).jets == 13
