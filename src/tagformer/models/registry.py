"""Model registry: names, presets (as data), declared capabilities, and a strict factory.

Models declare themselves with :func:`register_model`, which only *annotates* the class (no global
state is mutated at import). :func:`list_entries` discovers every annotated class in the modules of
``tagformer.models``; presets are plain dictionaries of constructor arguments.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import inspect
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from torch import nn

from tagformer.errors import ModelError
from tagformer.models.encoder import Encoder

if TYPE_CHECKING:
    from tagformer.models.tagger import Tagger

_ATTR = "__tagformer_entry__"
#: Arguments every encoder receives from the data, not from presets or overrides.
CONTEXT_ARGS = ("in_features", "num_particles")


@dataclass(frozen=True)
class Capabilities:
    """What a model promises; the registry-wide tests read these.

    order_dependent : None if the output does not depend on particle order, else the ordering the
        model expects its input in (e.g. ``"pt"``, ``"kt"``, ``"morton"``).
    """

    permutation_invariant: bool = True
    needs_pairs: bool = False
    needs_p4: bool = False
    order_dependent: str | None = None
    onnx_exportable: bool = True
    lorentz_equivariant: bool = False
    requires: tuple[str, ...] = ()  # optional python packages needed (e.g. ("lgatr",))


@dataclass(frozen=True)
class ModelEntry:
    name: str
    cls: type[nn.Module]
    presets: Mapping[str, Mapping[str, Any]]
    capabilities: Capabilities
    description: str = ""
    paper: str = ""
    smallest: str = ""
    default: str = ""
    arguments: tuple[str, ...] = field(default=())
    #: preset -> {argument: value it had in runs saved before the argument was written into run configs}
    saved_before: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    #: arguments written explicitly into every new run config (so a later change of a preset's value cannot
    #: change what a saved run builds)
    pinned: tuple[str, ...] = field(default=())


def register_model(
    name: str,
    *,
    presets: Mapping[str, Mapping[str, Any]],
    capabilities: Capabilities | Mapping[str, Any],
    description: str = "",
    paper: str = "",
    smallest: str | None = None,
    default: str | None = None,
    saved_before: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator declaring a model, its presets and capabilities.

    ``presets`` maps preset name -> constructor arguments; ``smallest`` names the preset the
    registry-wide tests use (default: the first), ``default`` the one ``create_model(name)`` builds
    (default: the preset called ``name`` if any, else the first).

    ``saved_before`` records a change of what a preset builds: preset -> {argument: the value it had}.
    Those arguments are then *pinned*: every new run config names them explicitly (:func:`pin_arguments`), and
    a saved run config that does not name them is a run from before the change, rebuilt with the old values
    (:func:`saved_arguments`), so no saved run silently changes its function.
    """
    if not presets:
        raise ValueError(f"model {name!r} needs at least one preset")
    caps = capabilities if isinstance(capabilities, Capabilities) else Capabilities(**capabilities)
    names = list(presets)

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        params = inspect.signature(cls.__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            raise TypeError(f"{cls.__name__} must not take **kwargs (unknown arguments must be errors)")
        args = tuple(p for p in params if p != "self")
        for preset, kwargs in [*presets.items(), *(saved_before or {}).items()]:
            unknown = set(kwargs) - set(args)
            if unknown:
                raise TypeError(f"preset {preset!r} of {name!r} sets unknown arguments {sorted(unknown)}")
        if set(saved_before or {}) - set(presets):
            raise TypeError(f"saved_before of {name!r} names unknown presets")
        entry = ModelEntry(
            name=name,
            cls=cls,
            presets=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in presets.items()}),
            capabilities=caps,
            description=description or (inspect.getdoc(cls) or "").split("\n")[0],
            paper=paper,
            smallest=smallest or names[0],
            default=default or (name if name in presets else names[0]),
            arguments=args,
            saved_before=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in (saved_before or {}).items()}),
            pinned=tuple(dict.fromkeys(k for v in (saved_before or {}).values() for k in v)),
        )
        setattr(cls, _ATTR, entry)
        return cls

    return decorate


@functools.cache
def _discover() -> Mapping[str, ModelEntry]:
    import tagformer.models as pkg

    found: dict[str, ModelEntry] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.ispkg or info.name in ("registry",):
            continue
        module = importlib.import_module(f"tagformer.models.{info.name}")
        for obj in vars(module).values():
            entry = getattr(obj, _ATTR, None)
            if isinstance(entry, ModelEntry) and entry.cls is obj:
                if entry.name in found and found[entry.name].cls is not obj:
                    raise RuntimeError(f"model name {entry.name!r} registered twice")
                found[entry.name] = entry
    presets_seen: dict[str, str] = {}
    for entry in found.values():
        for preset in entry.presets:
            if preset in presets_seen and presets_seen[preset] != entry.name:
                raise RuntimeError(f"preset {preset!r} declared by {presets_seen[preset]} and {entry.name}")
            presets_seen[preset] = entry.name
    return MappingProxyType(dict(sorted(found.items())))


def list_entries() -> list[ModelEntry]:
    """Every registered model, sorted by name."""
    return list(_discover().values())


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``."""
    return [n for n in _discover() if fnmatch.fnmatch(n, pattern)]


def list_presets(pattern: str = "*") -> list[str]:
    """Every preset name (across models) matching ``pattern``."""
    return [p for e in list_entries() for p in e.presets if fnmatch.fnmatch(p, pattern)]


def resolve(name_or_preset: str) -> tuple[ModelEntry, str]:
    """Map a model or preset name to ``(entry, preset)``; raises :class:`ModelError` if unknown."""
    entries = _discover()
    if name_or_preset in entries:
        entry = entries[name_or_preset]
        return entry, entry.default
    for entry in entries.values():
        if name_or_preset in entry.presets:
            return entry, name_or_preset
    raise ModelError(
        f"unknown model or preset {name_or_preset!r}; models: {', '.join(entries)}; "
        f"presets: {', '.join(list_presets())}"
    )


def get_entry(name_or_preset: str) -> ModelEntry:
    return resolve(name_or_preset)[0]


def model_kwargs(name_or_preset: str, **overrides: Any) -> dict[str, Any]:
    """Constructor arguments of a preset with non-``None`` overrides applied (validated)."""
    entry, preset = resolve(name_or_preset)
    kwargs = dict(entry.presets[preset])
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(entry.arguments))
    if unknown:
        raise ModelError(
            f"model {entry.name!r} has no argument(s) {', '.join(unknown)}; "
            f"available: {', '.join(a for a in entry.arguments if a not in CONTEXT_ARGS)}"
        )
    for key, value in given.items():
        _check_size(entry, key, value, _reference_value(entry, preset, key))
    kwargs.update(given)
    return kwargs


def pin_arguments(name_or_preset: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The pinned arguments a new run config must name and does not: {argument: today's value}."""
    entry, preset = resolve(name_or_preset)
    return {k: _reference_value(entry, preset, k) for k in entry.pinned if k not in overrides}


def saved_arguments(name_or_preset: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """For a saved run config: the pinned arguments it does not name, with the values its preset had when
    the run was saved (before they were pinned); {} for a run that names them all."""
    entry, preset = resolve(name_or_preset)
    old = entry.saved_before.get(preset, {})
    return {k: old.get(k, _reference_value(entry, preset, k)) for k in entry.pinned if k not in overrides}


def _reference_value(entry: ModelEntry, preset: str, key: str) -> Any:
    """The value ``key`` has without overrides: the preset's, else the constructor default (or None)."""
    if key in entry.presets[preset]:
        return entry.presets[preset][key]
    default = inspect.signature(entry.cls.__init__).parameters[key].default
    return None if default is inspect.Parameter.empty else default


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(entry: ModelEntry, key: str, value: Any, reference: Any) -> None:
    """ModelError if ``value`` cannot stand where ``reference`` does: sizes (positive integers, or lists of
    them) must stay positive integers, non-negative counts non-negative, positive scales positive and
    finite, dropout rates in [0, 1), switches booleans. Arguments of other kinds are left to the model."""
    name = f"model {entry.name!r} argument {key}"
    if isinstance(reference, bool):
        if not isinstance(value, bool):
            raise ModelError(f"{name} must be true or false, got {value!r}")
    elif _is_int(reference):
        low = 1 if reference > 0 else 0
        if not _is_int(value) or value < low:
            kind = "a positive integer" if low else "a non-negative integer"
            raise ModelError(f"{name} must be {kind}, got {value!r}")
    elif isinstance(reference, (tuple, list)) and reference and all(_is_int(v) and v > 0 for v in reference):
        if not isinstance(value, (tuple, list)) or not all(_is_int(v) and v > 0 for v in value):
            raise ModelError(f"{name} must be a list of positive integers (layer sizes), got {value!r}")
    elif isinstance(reference, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ModelError(f"{name} must be a finite number, got {value!r}")
        if "dropout" in key and not 0.0 <= value < 1.0:
            raise ModelError(f"{name} is a dropout rate and must be in [0, 1), got {value!r}")
        if reference > 0 and "dropout" not in key and value <= 0:
            raise ModelError(f"{name} must be positive, got {value!r}")


def create_encoder(
    name_or_preset: str,
    *,
    in_features: int,
    num_particles: int | None = None,
    **overrides: Any,
) -> Encoder:
    """Build the encoder of a model or preset (no input normalisation, no head).

    ``in_features`` and ``num_particles`` come from the data; ``num_particles`` is passed only to
    encoders that take it. ``None`` overrides are ignored; unknown ones are errors.
    """
    entry, _ = resolve(name_or_preset)
    for pkg in entry.capabilities.requires:
        try:
            importlib.import_module(pkg)
        except ImportError as exc:
            raise ModelError(
                f"model {entry.name!r} needs the optional package {pkg!r}: pip install 'tagformer[{pkg}]'"
            ) from exc
    kwargs = model_kwargs(name_or_preset, **overrides)
    context = {"in_features": in_features, "num_particles": num_particles}
    for key, value in context.items():
        if key in entry.arguments and value is not None:
            kwargs[key] = value
        elif key in entry.arguments and key not in kwargs:
            param = inspect.signature(entry.cls.__init__).parameters[key]
            if param.default is inspect.Parameter.empty:
                raise ModelError(f"model {entry.name!r} needs {key}")
    try:
        encoder = entry.cls(**kwargs)
    except (TypeError, ValueError, RuntimeError, AssertionError, ZeroDivisionError) as exc:
        # impossible argument combinations (e.g. dim not divisible by num_heads) surface here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot build {name_or_preset!r} with {kwargs}: {first}") from exc
    if not isinstance(encoder, Encoder):
        raise TypeError(f"{entry.cls.__name__} does not implement the Encoder contract")
    return encoder


def create_model(
    name_or_preset: str,
    *,
    num_classes: int,
    in_features: int,
    num_particles: int | None = None,
    **overrides: Any,
) -> Tagger:
    """Build a classifier: :class:`~tagformer.models.tagger.Tagger` = input normalisation (identity until
    its statistics are set) + the encoder of ``name_or_preset`` + one classification head.

    ``forward(batch)`` returns class logits (B, ``num_classes``). See :func:`create_encoder` for the rest.
    """
    from tagformer.models.heads import ClassificationHead
    from tagformer.models.tagger import Tagger

    encoder = create_encoder(name_or_preset, in_features=in_features, num_particles=num_particles, **overrides)
    return Tagger(encoder, {"classification": ClassificationHead(encoder.jet_dim, num_classes)}, in_features)
