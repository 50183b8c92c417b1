"""What a model needs to know about its data: :class:`DatasetInfo` (saved as a run's ``dataset.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from tagformer.errors import TagformerError


@dataclass(frozen=True)
class DatasetInfo:
    """Format, classes and input shape of a prepared dataset.

    Attributes
    ----------
    format : reader name (``hls4ml``, ``jetclass``, ...).
    class_names, num_classes : the label order the model's outputs follow.
    in_features, feature_names : the per-particle inputs, in order.
    num_particles : N after truncation and padding.
    feature_set, ordering : how the inputs were built.
    truncation : per split, how many particles (and what pT fraction) truncation to N dropped.
    """

    format: str
    class_names: list[str]
    num_classes: int
    in_features: int
    num_particles: int
    feature_names: list[str]
    feature_set: str
    ordering: str
    truncation: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Any, *, feature_set: str = "", ordering: str = "") -> DatasetInfo:
        """Read a ``dataset.json`` payload.

        Files written before ``feature_set``, ``ordering`` and ``truncation`` were saved lack them: the
        keyword arguments (taken from the run's config) fill the first two, truncation stays empty.
        """
        if not isinstance(raw, dict):
            raise TagformerError("dataset info is not a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise TagformerError(f"dataset info has unknown keys: {', '.join(unknown)}")
        values = {"feature_set": feature_set, "ordering": ordering, **raw}
        missing = sorted(known - set(values) - {"truncation"})
        if missing:
            raise TagformerError(f"dataset info lacks: {', '.join(missing)}")
        return cls(**values)
