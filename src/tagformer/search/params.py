"""One searched parameter: how a YAML entry reads (choices, integer or float range, fixed value) and how it is
drawn from an Optuna trial.

Written forms (in a search-space file)::

    dim: [8, 16, 32]                      # choices (any YAML values, lists too)
    depth: {low: 1, high: 3}              # integers low..high (``step`` optional)
    optim.lr: {low: 1.0e-4, high: 3.0e-3, log: true}   # floats (a float bound makes the range float)
    pool: max                             # a fixed value (applied, not searched)

Optuna's categorical distributions hold only ``None``, bools, numbers and strings; when a parameter has a
choice that is none of these (e.g. a list of layer widths), every choice is stored as its JSON text and
decoded again when the trial's configuration is built.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tagformer.errors import ConfigError

if TYPE_CHECKING:
    import optuna

Kind = Literal["choice", "int", "float", "fixed"]
_RANGE_KEYS = {"low", "high", "step", "log"}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class ParamSpec:
    """A parameter of a search space.

    Attributes
    ----------
    name : the key as written: a model constructor argument (``dim``) or a dotted run-config key
        (``data.num_particles``, ``optim.lr``).
    kind : ``choice``, ``int``, ``float`` or ``fixed``.
    choices : the values of a ``choice`` parameter (decoded form).
    low, high, step, log : the range of an ``int`` / ``float`` parameter.
    value : the value of a ``fixed`` parameter.
    encoded : ``choice`` values are stored in Optuna as JSON text (some choice is not a scalar).
    """

    name: str
    kind: Kind
    choices: tuple[Any, ...] = ()
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    value: Any = None
    encoded: bool = False

    @property
    def searched(self) -> bool:
        return self.kind != "fixed"

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution of this parameter (not for ``fixed`` ones)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution([self._encode(c) for c in self.choices])
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        if self.kind == "float":
            return FloatDistribution(float(self.low), float(self.high), step=self.step, log=self.log)
        raise ValueError(f"parameter {self.name!r} is fixed; it has no distribution")

    def suggest(self, trial: optuna.trial.BaseTrial, gene: str) -> Any:
        """Draw the value of this parameter under the name ``gene`` (decoded; fixed values as they are)."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "choice":
            return self.decode(trial.suggest_categorical(gene, [self._encode(c) for c in self.choices]))
        if self.kind == "int":
            return trial.suggest_int(gene, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(gene, float(self.low), float(self.high), step=self.step, log=self.log)

    def decode(self, stored: Any) -> Any:
        """The value a stored Optuna parameter stands for."""
        return json.loads(stored) if self.encoded else stored

    def corners(self) -> list[Any]:
        """The extreme values (first and last choice, low and high): what validation builds configs with."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "choice":
            return [self.choices[0], self.choices[-1]]
        return [self.low, self.high]

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what the study stores to recognise its space)."""
        if self.kind == "fixed":
            return {"value": self.value}
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        return {"kind": self.kind, "low": self.low, "high": self.high, "step": self.step, "log": self.log}

    def _encode(self, value: Any) -> Any:
        return json.dumps(value) if self.encoded else value


def parse_param(name: str, raw: Any, where: str) -> ParamSpec:
    """Read one parameter entry; :class:`ConfigError` naming ``where`` for an empty or malformed range.

    Parameters
    ----------
    name : the key (model argument or dotted run-config key).
    raw : the YAML value: a list (choices), a mapping with ``low``/``high`` (range) or a scalar (fixed).
    where : where the entry is, for messages (e.g. ``"family 'phat' in space.yaml"``).
    """
    if isinstance(raw, list):
        return _parse_choices(name, raw, where)
    if isinstance(raw, dict):
        return _parse_range(name, raw, where)
    return ParamSpec(name, "fixed", value=raw)


def _parse_choices(name: str, raw: list[Any], where: str) -> ParamSpec:
    if not raw:
        raise ConfigError(f"parameter {name!r} of {where} has an empty list of choices")
    try:
        texts = [json.dumps(c, sort_keys=True) for c in raw]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"parameter {name!r} of {where}: choices must be plain YAML values ({exc})") from exc
    if len(set(texts)) != len(texts):
        raise ConfigError(f"parameter {name!r} of {where} lists a choice twice: {raw}")
    return ParamSpec(name, "choice", choices=tuple(raw), encoded=not all(_is_scalar(c) for c in raw))


def _parse_range(name: str, raw: dict[str, Any], where: str) -> ParamSpec:
    unknown = sorted(set(raw) - _RANGE_KEYS)
    if unknown or "low" not in raw or "high" not in raw:
        raise ConfigError(f"parameter {name!r} of {where} must be a list of choices, a fixed value or a range "
                          f"{{low: ..., high: ..., step: ..., log: ...}}; got keys {sorted(raw)}")
    low, high, step, log = raw["low"], raw["high"], raw.get("step"), bool(raw.get("log", False))
    if not all(_is_number(v) for v in (low, high)) or (step is not None and not _is_number(step)):
        raise ConfigError(f"parameter {name!r} of {where}: low, high and step must be numbers, got {raw}")
    if not all(math.isfinite(v) for v in (low, high)):
        raise ConfigError(f"parameter {name!r} of {where}: low and high must be finite, got {raw}")
    if low > high:
        raise ConfigError(f"parameter {name!r} of {where} has an empty range: low {low} > high {high}")
    if step is not None and step <= 0:
        raise ConfigError(f"parameter {name!r} of {where}: step must be positive, got {step}")
    if log and low <= 0:
        raise ConfigError(f"parameter {name!r} of {where}: a log range needs low > 0, got {low}")
    if log and step is not None:
        raise ConfigError(f"parameter {name!r} of {where}: a range is either log or stepped, not both")
    kind: Kind = "int" if all(isinstance(v, int) for v in (low, high, step or 1)) else "float"
    if kind == "int" and step is not None and (high - low) % step:
        raise ConfigError(f"parameter {name!r} of {where}: high - low ({high - low}) is not a multiple of step {step}")
    return ParamSpec(name, kind, low=low, high=high, step=step, log=log)
