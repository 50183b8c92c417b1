from __future__ import annotations

import numpy as np

from tagformer.eval.plots import _label_points, _style


def test_labels_of_nearby_points_do_not_overlap():
    xs = np.array([1.0e6, 1.05e6, 1.1e6, 3.0e5])
    ys = np.array([0.550, 0.549, 0.551, 0.50])
    names = ["transformer_tiny", "part_tiny", "another_model", "far_away"]
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(9, 7))
        ax.plot(xs, ys, "o")
        ax.set_xscale("log")
        fig.tight_layout()
        _label_points(fig, ax, xs, ys, names)
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        labels = sorted(t.get_text() for t in ax.texts)
        plt.close(fig)
    assert labels == sorted(names)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not boxes[i].overlaps(boxes[j]), (i, j)
