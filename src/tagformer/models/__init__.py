"""Model zoo: efficient-attention jet taggers behind one registry (``create_model``, ``list_models``)."""

from tagformer.models.registry import (
    Capabilities,
    create_encoder,
    create_model,
    get_entry,
    list_entries,
    list_models,
    list_presets,
    register_model,
)

__all__ = [
    "Capabilities",
    "create_encoder",
    "create_model",
    "get_entry",
    "list_entries",
    "list_models",
    "list_presets",
    "register_model",
]
