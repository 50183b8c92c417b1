"""Subjet construction against FastJet on constructed jets: two well-separated clusters -> two subjets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tagformer.data.batch import JetBatch
from tagformer.pretrain.subjets import ca_subjets, exclusive_kt_subjets
from tagformer.pretrain.views import make_view


def _v(pt: float, eta: float, phi: float) -> list[float]:
    return [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)]


def _two_prongs() -> tuple[np.ndarray, np.ndarray]:
    """Jet 0: a 15 GeV cluster at (0, 0) and a 28 GeV one at (0.5, 1.0), one padded slot; jet 1: one particle."""
    p4 = np.zeros((2, 6, 4))
    p4[0, :5] = [_v(10, 0, 0), _v(5, 0.05, 0.02), _v(20, 0.5, 1.0), _v(8, 0.52, 1.03), _v(3, -0.03, 0.01)]
    p4[1, 0] = _v(30, 0.1, -0.2)
    mask = np.zeros((2, 6), bool)
    mask[0, :5] = True
    mask[1, 0] = True
    return p4, mask


def test_ca_subjets_find_the_two_clusters_with_their_four_momenta() -> None:
    p4, mask = _two_prongs()
    sub = ca_subjets(p4, mask, radius=0.2, max_subjets=20)
    assert sub.p4.shape == (2, 20, 4) and sub.mask.sum(1).tolist() == [2, 1]
    np.testing.assert_allclose(sub.p4[0, 0], p4[0, [2, 3]].sum(0), rtol=1e-5)  # harder cluster first
    np.testing.assert_allclose(sub.p4[0, 1], p4[0, [0, 1, 4]].sum(0), rtol=1e-5)
    assert sub.assign[0].tolist() == [1, 1, 0, 0, 1, -1]
    assert sub.assign[1].tolist() == [0, -1, -1, -1, -1, -1]
    np.testing.assert_allclose(sub.p4[1, 0], p4[1, 0], rtol=1e-5)


def test_ca_subjets_keep_the_hardest() -> None:
    p4, mask = _two_prongs()
    sub = ca_subjets(p4, mask, radius=0.2, max_subjets=1)
    assert sub.mask.sum(1).tolist() == [1, 1]
    assert sub.assign[0].tolist() == [-1, -1, 0, 0, -1, -1]


def test_exclusive_kt_two_subjets_are_the_clusters() -> None:
    p4, mask = _two_prongs()
    sub_p4, sub_mask = exclusive_kt_subjets(p4, mask, 2)
    assert sub_mask.tolist() == [[True, True], [True, False]]
    np.testing.assert_allclose(sub_p4[0, 0], p4[0, [2, 3]].sum(0), rtol=1e-5)
    np.testing.assert_allclose(sub_p4[0, 1], p4[0, [0, 1, 4]].sum(0), rtol=1e-5)
    one, _ = exclusive_kt_subjets(p4, mask, 1)
    np.testing.assert_allclose(one[0, 0], p4[0].sum(0), rtol=1e-5)  # one subjet = the jet


def test_views_conserve_the_jet_and_fit_the_batch() -> None:
    p4, mask = _two_prongs()
    batch = JetBatch(features=torch.zeros(2, 6, 7), p4=torch.from_numpy(p4.astype(np.float32)),
                     mask=torch.from_numpy(mask))
    for n in (1, 2, 4):
        view = make_view(batch, n, "part_kin")
        assert view.features.shape == (2, 6, 7) and view.mask.sum(1).tolist() == [min(n, 5), 1]
        np.testing.assert_allclose(view.p4.sum(1).numpy(), p4.sum(1), rtol=1e-5)
        assert (view.features[~view.mask] == 0).all()
    assert make_view(batch, 0, "part_kin") is batch
    from tagformer.errors import ConfigError

    with pytest.raises(ConfigError, match="does not fit"):
        make_view(batch, 7, "part_kin")
