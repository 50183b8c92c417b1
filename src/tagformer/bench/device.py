"""The ``--device`` of evaluate and profile: one check that the named device exists here."""

from __future__ import annotations

from tagformer.errors import ConfigError

#: Device types a command accepts (``cuda:N`` picks a GPU).
DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(name: str | None, flag: str = "--device") -> str:
    """``name`` checked against this machine; None -> ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Raises
    ------
    ConfigError
        For an unknown device name, or a device type (CUDA, MPS, a GPU index) this machine does not have.
    """
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    text = str(name).strip().lower()
    kind, _, index = text.partition(":")
    if kind not in DEVICE_TYPES or (index and (kind != "cuda" or not index.isdigit())):
        raise ConfigError(f"{flag} {name!r} is not a device; use cpu, cuda, cuda:N or mps")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{flag} {name} was asked for but no CUDA device is available on this machine "
                              "(torch.cuda.is_available() is False); use --device cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(f"{flag} {name}: only {torch.cuda.device_count()} CUDA device(s) here "
                              f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if kind == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"{flag} mps was asked for but this machine has no MPS device; use --device cpu")
    return text
