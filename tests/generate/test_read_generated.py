"""A file made by `tagformer generate` reads back through the hls4ml reader with consistent kinematics."""

from __future__ import annotations

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.formats import read_files


def test_generated_file_reads(physics_file):
    arrays = read_files([str(physics_file)], "hls4ml", max_jets=150)
    assert len(arrays) == 150 and arrays.class_names == ["g", "q", "w", "z", "t"]
    assert "j_g" not in arrays.jet_names and "g" not in arrays.jet_names
    stored = arrays.extras["hls4ml16"]
    np.testing.assert_allclose(stored[..., 5][arrays.mask], kin.pt(arrays.p4)[arrays.mask], rtol=1e-3)
