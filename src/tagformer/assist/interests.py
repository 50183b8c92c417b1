"""The interests file: topics the reader cares about and topics they do not (YAML)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pydantic
import yaml

from tagformer.errors import ConfigError

DEFAULT_NAME = "interests_trigger_ml.yaml"


class Interests(pydantic.BaseModel):
    """``interested`` / ``not_interested`` topic descriptions and the offline ranker's score thresholds
    (one pair per similarity: the TF-IDF and embedding scores have different scales)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    name: str = "interests"
    interested: list[str] = pydantic.Field(min_length=1)
    not_interested: list[str] = []
    thresholds: dict[str, float] = {"high": 0.20, "medium": 0.10}  # TF-IDF score
    thresholds_embedding: dict[str, float] = {"high": 0.25, "medium": 0.15}  # all-MiniLM-L6-v2 score

    def as_text(self) -> str:
        """The interests as the bullet list given to an LLM."""
        lines = ["Interested in:", *[f"- {t}" for t in self.interested]]
        if self.not_interested:
            lines += ["Not interested in:", *[f"- {t}" for t in self.not_interested]]
        return "\n".join(lines)


def default_path() -> Path:
    """The packaged default interests file (efficient ML for triggers)."""
    return Path(str(resources.files("tagformer.assist") / "data" / DEFAULT_NAME))


def load_interests(path: str | Path | None = None) -> Interests:
    """Read an interests YAML (the packaged default when ``path`` is None).

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or does not have the expected keys.
    """
    p = Path(path) if path is not None else default_path()
    if not p.is_file():
        raise ConfigError(f"{p}: interests file not found (a YAML file with 'interested:' and "
                          "'not_interested:' lists; omit --interests for the packaged default).")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping with 'interested:' and 'not_interested:' lists.")
    try:
        return Interests.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise ConfigError(f"{p}: {where}: {first['msg']}") from None
