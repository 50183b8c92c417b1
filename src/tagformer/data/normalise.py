"""Per-feature standardisation fitted on the training split (real particles only), saved with a run.

Two methods (``data.normalisation``): ``standard`` (mean and standard deviation; the default) and
``robust`` (median and the 5-95 % interpercentile range, (x - median) / (p95 - p5), as the SAL-T and PHAT-JeT
reference trainings prepare their inputs). Either way the centre and scale are stored as ``mean`` and
``std`` (the state's ``method`` says which), so the model's input normalisation is the same two buffers.

The loaders yield raw features; a training run copies the fitted ``mean`` and ``std`` into the model's
:class:`~tagformer.models.input_norm.InputNorm` (so the weights carry them) and saves the JSON state
(``state_dict()``) as the run's ``normaliser.json``. :meth:`Normaliser.apply` (numpy) and
:meth:`Normaliser.apply_torch` compute the same transform outside a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagformer.errors import DataError

MIN_STD = 1e-6
#: Largest feature magnitude accepted for training: squares of larger values overflow float32 (max ~3.4e38),
#: so such values (usually corrupt entries or wrong units) would make the model's arithmetic infinite.
MAX_ABS_FEATURE = 1e18


@dataclass
class Normaliser:
    """x -> (x - mean) / std per feature (``mean``/``std``: the method's centre and scale); padded slots 0."""

    feature_set: str
    feature_names: list[str]
    mean: np.ndarray
    std: np.ndarray
    count: int = 0
    method: str = "standard"

    @classmethod
    def fit(cls, features: np.ndarray, mask: np.ndarray, feature_set: str,
            feature_names: list[str], method: str = "standard") -> Normaliser:
        """Fit on the real particles of ``features`` (n, N, F) with ``mask`` (n, N) by ``method``."""
        real = features[mask].astype(np.float64)
        if real.shape[0] == 0:
            raise DataError("cannot fit the normalisation: the training split has no real particles.")
        _check_values(real, list(feature_names))
        if method == "robust":
            p5, median, p95 = np.percentile(real, [5.0, 50.0, 95.0], axis=0)
            centre, scale = median, p95 - p5
        elif method == "standard":
            centre, scale = real.mean(axis=0), real.std(axis=0)
        else:
            raise DataError(f"unknown normalisation {method!r}; choose standard or robust")
        return cls(feature_set, list(feature_names), centre, np.where(scale < MIN_STD, 1.0, scale),
                   int(real.shape[0]), method)

    @classmethod
    def from_state(cls, state: dict) -> Normaliser:
        """Rebuild from :meth:`state_dict`; DataError if the state is malformed."""
        try:
            mean = np.asarray(state["mean"], dtype=np.float64)
            std = np.asarray(state["std"], dtype=np.float64)
            names = list(state["feature_names"])
            out = cls(str(state["feature_set"]), names, mean, std, int(state.get("count", 0)),
                      str(state.get("method", "standard")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"normaliser state is malformed: {exc}.") from None
        if mean.shape != (len(names),) or std.shape != (len(names),) or not (std > 0).all() \
                or not np.isfinite(mean).all() or not np.isfinite(std).all():
            raise DataError(f"normaliser state is malformed: {len(names)} names, mean {mean.shape}, "
                            f"std {std.shape} (mean and std must be finite, std > 0).")
        return out

    def state_dict(self) -> dict:
        """JSON-serialisable state."""
        return {"feature_set": self.feature_set, "feature_names": list(self.feature_names),
                "mean": [float(x) for x in self.mean], "std": [float(x) for x in self.std],
                "count": int(self.count), "method": self.method}

    def check_compatible(self, feature_set: str, feature_names: list[str]) -> None:
        if feature_set != self.feature_set or list(feature_names) != self.feature_names:
            raise DataError(f"normaliser was fitted for feature set '{self.feature_set}' "
                            f"({len(self.feature_names)} features), not '{feature_set}'.")

    def apply(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Normalised float32 copy of ``features`` with padded slots set to 0."""
        out = (features - self.mean.astype(np.float32)) / self.std.astype(np.float32)
        return np.where(mask[..., None], out, 0.0).astype(np.float32)

    def apply_torch(self, features, mask):
        """The same transform on torch tensors (for export graphs)."""
        import torch

        mean = torch.as_tensor(self.mean, dtype=features.dtype, device=features.device)
        std = torch.as_tensor(self.std, dtype=features.dtype, device=features.device)
        return torch.where(mask[..., None], (features - mean) / std, torch.zeros((), dtype=features.dtype))


def _check_values(real: np.ndarray, names: list[str]) -> None:
    """DataError naming the first feature with NaN/infinite values or magnitudes above :data:`MAX_ABS_FEATURE`."""
    finite = np.isfinite(real)
    for j, name in enumerate(names):
        bad = int((~finite[:, j]).sum())
        if bad:
            raise DataError(f"feature {name!r} is NaN or infinite for {bad} of {len(real)} real particles of the "
                            "training split; fix or drop those jets before training.")
    peak = np.abs(real).max(axis=0)
    for j, name in enumerate(names):
        if peak[j] > MAX_ABS_FEATURE:
            raise DataError(f"feature {name!r} reaches {peak[j]:.3g} in the training split (std "
                            f"{real[:, j].std():.3g}); values beyond +-{MAX_ABS_FEATURE:.0e} overflow the model's "
                            "float32 arithmetic - check the file's units or for corrupt entries.")
