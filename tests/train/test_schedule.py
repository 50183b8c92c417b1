from __future__ import annotations

import pytest

from tagformer.config import ScheduleConfig
from tagformer.train.module import lr_factor


@pytest.mark.parametrize("name", ["cosine", "onecycle", "constant"])
def test_schedule_is_bounded_and_never_fails_past_the_end(name):
    sched = ScheduleConfig(name=name, warmup_fraction=0.1, min_lr_ratio=0.01)
    values = [lr_factor(s, 100, sched) for s in range(130)]
    assert all(0 < v <= 1.0 + 1e-12 for v in values)
    if name != "constant":
        assert values[0] < values[10]  # warm-up rises
        assert values[99] < 0.05  # annealed at the end
        assert values[129] == pytest.approx(values[100])  # clamped past the planned total


def test_cosine_peaks_after_warmup():
    sched = ScheduleConfig(name="cosine", warmup_fraction=0.2, min_lr_ratio=0.0)
    values = [lr_factor(s, 50, sched) for s in range(50)]
    assert max(values) == pytest.approx(1.0)
    assert values.index(max(values)) == 10
