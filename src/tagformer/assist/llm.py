"""One wrapper around any OpenAI-compatible chat endpoint (hosted models, vLLM, Ollama, llama.cpp servers)
or the embedded model (:mod:`tagformer.assist.local_llm`, the same client interface):
typed JSON answers validated with pydantic and retried once when invalid, embeddings, token and cost
accounting, answers cached on disk, and endpoint failures turned into one clear error.

The client is injected (anything with ``chat.completions.create`` and ``embeddings.create`` like
``openai.OpenAI``), so tests drive the same code with a fake one and make no network call.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pydantic

from tagformer.assist.cache import DiskCache
from tagformer.errors import ConfigError, TagformerError

T = TypeVar("T", bound=pydantic.BaseModel)
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n\s*```\s*$", re.S)


class LLMError(TagformerError):
    """The endpoint refused, timed out, or answered invalid output twice."""


class LLMInvalidOutput(LLMError):
    """The model's reply stayed invalid after the retries."""


@dataclass
class LLMSettings:
    """Where the endpoint is: flags first, then ``TAGFORMER_LLM_BASE_URL`` / ``OPENAI_BASE_URL``,
    ``TAGFORMER_LLM_MODEL``, ``TAGFORMER_LLM_API_KEY`` / ``OPENAI_API_KEY`` (``none`` for local servers)."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    embed_model: str | None = None
    timeout_s: float = 120.0
    price_in: float = 0.0  # USD per million prompt tokens
    price_out: float = 0.0  # USD per million completion tokens

    def resolved(self) -> LLMSettings | None:
        """These settings with the environment filled in; None when no model is configured (offline)."""
        env = os.environ
        model = self.model or env.get("TAGFORMER_LLM_MODEL")
        if not model:
            return None
        return LLMSettings(model=model, base_url=self.base_url or env.get("TAGFORMER_LLM_BASE_URL")
                           or env.get("OPENAI_BASE_URL"),
                           api_key=self.api_key or env.get("TAGFORMER_LLM_API_KEY") or env.get("OPENAI_API_KEY")
                           or "none", embed_model=self.embed_model or env.get("TAGFORMER_LLM_EMBED_MODEL"),
                           timeout_s=self.timeout_s, price_in=self.price_in, price_out=self.price_out)


@dataclass
class Usage:
    """Tokens and calls spent, and their cost at the given prices."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: int = 0
    invalid: int = 0

    def cost(self, price_in: float, price_out: float) -> float:
        return (self.prompt_tokens * price_in + self.completion_tokens * price_out) / 1e6


def _strip_fence(text: str) -> str:
    m = _FENCE.match(text)
    return m.group(1) if m else text.strip()


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


@dataclass
class LLM:
    """A chat model behind an OpenAI-compatible client; see the module docstring."""

    client: Any
    model: str
    cache: DiskCache = field(default_factory=lambda: DiskCache(None))
    settings: LLMSettings = field(default_factory=LLMSettings)
    json_mode: bool = True
    usage: Usage = field(default_factory=Usage)

    @classmethod
    def from_settings(cls, settings: LLMSettings, cache: DiskCache | None = None) -> LLM:
        """A real ``openai.OpenAI`` client for resolved settings (ConfigError without the assist extra)."""
        try:
            import openai
        except ImportError:
            raise ConfigError("an LLM endpoint needs the openai client: pip install 'tagformer[assist]'") from None
        client = openai.OpenAI(base_url=settings.base_url, api_key=settings.api_key, timeout=settings.timeout_s,
                               max_retries=1)
        return cls(client=client, model=settings.model or "", cache=cache or DiskCache(None), settings=settings)

    def _call(self, what: str, fn, **kwargs) -> Any:
        try:
            return fn(**kwargs)
        except Exception as exc:
            if isinstance(exc, TagformerError):
                raise
            where = self.settings.base_url or "the default OpenAI endpoint"
            kind = "embedded LLM" if where.startswith("embedded") else "LLM endpoint"
            raise LLMError(f"the {kind} ({where}, model {self.model}) failed on {what}: {_short(exc)}") from None

    def chat(self, messages: list[dict[str, str]], *, json_mode: bool = False) -> str:
        """The reply text to ``messages`` (cached by model and messages)."""
        key = json.dumps([self.model, json_mode, messages], sort_keys=True)
        hit = self.cache.get("llm", key)
        if hit is not None:
            self.usage.cached += 1
            return hit
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0}
        if json_mode and self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        reply = self._call("a chat request", self.client.chat.completions.create, **kwargs)
        self.usage.calls += 1
        usage = getattr(reply, "usage", None)
        if usage is not None:
            self.usage.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.usage.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        text = reply.choices[0].message.content or ""
        self.cache.put("llm", key, text)
        return text

    def structured(self, messages: list[dict[str, str]], schema: type[T], retries: int = 1) -> T:
        """A ``schema`` instance from the model's JSON reply; an invalid reply is sent back with the
        validation error and retried ``retries`` times, then LLMError."""
        history = list(messages)
        error = ""
        for _ in range(retries + 1):
            text = self.chat(history, json_mode=True)
            try:
                return schema.model_validate_json(_strip_fence(text))
            except pydantic.ValidationError as exc:
                self.usage.invalid += 1
                error = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
                history = [*history, {"role": "assistant", "content": text},
                           {"role": "user", "content": f"That output is invalid ({error[:600]}). Reply with only "
                                                       "the corrected JSON object."}]
        raise LLMInvalidOutput(f"the LLM ({self.model}) returned invalid {schema.__name__} output "
                       f"{retries + 1} times; last error: {error[:300]}")

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, d) float32 unit vectors from the endpoint's embeddings model (``embed_model``)."""
        model = self.settings.embed_model
        if not model:
            raise ConfigError("no embeddings model configured (--embed-model or TAGFORMER_LLM_EMBED_MODEL).")
        reply = self._call("an embeddings request", self.client.embeddings.create, model=model, input=texts)
        vectors = np.asarray([d.embedding for d in reply.data], np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def usage_line(self) -> str:
        """``LLM model: N calls (M cached, K invalid), P prompt + C completion tokens, $X``."""
        u, s = self.usage, self.settings
        priced = s.price_in or s.price_out
        cost = f", ${u.cost(s.price_in, s.price_out):.4f}" if priced else ", cost: set --price-in/--price-out"
        return (f"LLM {self.model}: {u.calls} calls ({u.cached} cached, {u.invalid} invalid replies), "
                f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens{cost}")
