"""Llama-layout Hugging Face folders (Llama, Mistral, Qwen2, Qwen3) load into our Transformer
and match transformers to 1e-5 of each tensor's scale.

Every model is a tiny random transformers model of its family saved into tmp_path, with a
byte-level BPE trained offline: grouped-query attention (n_kv_heads < n_heads),
rope_theta ≠ 10000, a rope scaling setting, tied and untied embeddings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.transformer import activation_names
from model.loading import available_models, folder_kind, load_tracing_model
from tests.model.conftest import train_byte_bpe
from tests.numerics import assert_close

# transformers computes the same functions in another order (rotary embeddings, grouped-query
# heads repeated, RMSNorm's mean and the softmax in other kernels): a float32 difference of a
# few units of roundoff per layer, relative to each tensor's largest value.
REL = 1e-5
TEXT = "the king and the queen, the man and the woman, the cat and the cats"
COMMON = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64)
FAMILIES = {
    "llama-llama3-untied": lambda V: transformers.LlamaConfig(
        vocab_size=V, num_key_value_heads=2, rope_theta=500000.0, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 16}, **COMMON),
    "llama-linear-tied": lambda V: transformers.LlamaConfig(
        vocab_size=V, num_key_value_heads=1, rope_theta=20000.0, tie_word_embeddings=True,
        rope_scaling={"rope_type": "linear", "factor": 2.0}, **COMMON),
    "mistral-window": lambda V: transformers.MistralConfig(
        vocab_size=V, num_key_value_heads=2, rope_theta=1e6, sliding_window=5, tie_word_embeddings=False, **COMMON),
    "qwen2-biases-tied": lambda V: transformers.Qwen2Config(
        vocab_size=V, num_key_value_heads=2, rope_theta=1e6, tie_word_embeddings=True,
        rope_scaling={"rope_type": "dynamic", "factor": 2.0}, **COMMON),
    "qwen3-qknorm-yarn": lambda V: transformers.Qwen3Config(
        vocab_size=V, num_key_value_heads=2, head_dim=16, rope_theta=1e6, tie_word_embeddings=False,
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}, **COMMON),
}


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """Weights far from the init (norm gains around 1, biases non-zero), so a wrong mapping shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.3 * noise if "norm" in name else 0.3 * noise)


def make(folder: Path, family: str, seed: int = 0):
    tok = train_byte_bpe()
    config = FAMILIES[family](tok.get_vocab_size())
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    randomise(model, seed)
    model.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    return model


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf") / request.param
    return folder, make(folder, request.param)


def reference(model, ids: np.ndarray):
    with torch.no_grad():
        return model(torch.tensor(ids)[None], output_attentions=True, output_hidden_states=True)


def test_logits_hidden_states_and_every_pattern_match_transformers(family_folder):
    folder, hf = family_folder
    model = load_tracing_model(folder)
    trace = model.trace(TEXT, logit_positions="all")
    out = reference(hf, trace.token_ids)
    L = trace.n_layers
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    for i in range(L):
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], REL, what=f"resid_pre[{i}]")
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")
    assert_close(trace.final_norm, out.hidden_states[L][0], REL, what="final_norm")
    assert model.info().n_kv_heads == hf.config.num_key_value_heads
    assert model.module.cfg.tie_embeddings == hf.config.tie_word_embeddings


def test_sliding_window_hides_keys_too_far_back(tmp_path):
    make(tmp_path, "mistral-window")
    trace = load_tracing_model(tmp_path).trace(TEXT)
    T = trace.n_tokens
    too_far = np.tril(np.ones((T, T), dtype=bool), k=-5)
    assert T > 6 and np.all(trace.pattern[..., too_far] == 0)


def test_sharded_checkpoint_loads(tmp_path):
    hf = make(tmp_path / "whole", "llama-llama3-untied")
    sharded = tmp_path / "sharded"
    hf.save_pretrained(sharded, max_shard_size="20KB")
    (sharded / "tokenizer.json").write_text((tmp_path / "whole" / "tokenizer.json").read_text())
    assert (sharded / "model.safetensors.index.json").is_file()
    whole, parts = load_tracing_model(tmp_path / "whole"), load_tracing_model(sharded)
    weights = parts.module.state_dict()
    assert weights.keys() == whole.module.state_dict().keys()
    for name, tensor in whole.module.state_dict().items():  # the same bytes, read from other files
        np.testing.assert_array_equal(weights[name].numpy(), tensor.numpy(), err_msg=name)
    # The same weights in other buffers: the forward pass may round differently (alignment
    # picks other SIMD paths), so the logits agree to the default tolerance, not bit for bit.
    assert_close(parts.trace(TEXT).logits, whole.trace(TEXT).logits, what="logits, sharded vs whole")


def test_unsupported_family_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "rwkv", "hidden_size": 8}))
    with pytest.raises(ModelFileError, match="'rwkv' is not supported") as info:
        load_tracing_model(tmp_path)
    assert info.value.path == tmp_path / "config.json"


def test_mismatched_tensor_names_the_file(tmp_path):
    make(tmp_path, "qwen2-biases-tied")
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))
    state["model.layers.1.self_attn.k_proj.weight"] = torch.zeros(3, 3)
    save_file(state, str(weights))
    with pytest.raises(ModelFileError, match="k_proj.weight has shape") as info:
        load_tracing_model(tmp_path)
    assert info.value.path == weights


def test_folders_are_discovered_as_llama_layout(tmp_path):
    make(tmp_path / "models" / "tiny-qwen3", "qwen3-qknorm-yarn")
    assert folder_kind(tmp_path / "models" / "tiny-qwen3") == "llama"
    choices = available_models((tmp_path / "models",), include_cache=False, include_ollama=False)
    (choice,) = [c for c in choices if "tiny-qwen3" in c.name]
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "models" / "tiny-qwen3")
    assert choice.kind == "llama" and choice.n_params == sum(p.numel() for p in hf.parameters())
    assert choice.size_bytes == (tmp_path / "models" / "tiny-qwen3" / "model.safetensors").stat().st_size


def test_a_folder_too_large_for_memory_is_refused(tmp_path, monkeypatch):
    make(tmp_path, "qwen2-biases-tied")
    monkeypatch.setattr("model.loading.available_memory", lambda: 1000)
    with pytest.raises(ModelFileError, match="too large for this machine"):
        load_tracing_model(tmp_path)


def test_rope_scaling_survives_a_config_round_trip():
    cfg = ModelConfig(vocab_size=10, d_model=16, n_heads=2, positional="rope", norm="rmsnorm",
                      rope_scaling=(("factor", 2.0), ("rope_type", "linear")))
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and hash(again) == hash(cfg)


def test_rotary_activation_names_add_q_and_k_before_rotation():
    names = activation_names(1, rotary=True)
    assert names[2:5] == ["blocks.0.resid_pre", "blocks.0.attn.q_unrotated", "blocks.0.attn.k_unrotated"]
    assert activation_names(1) == [n for n in names if "unrotated" not in n]


def test_bos_follows_the_tokenizer_files(tmp_path):
    from tokenizers import processors

    make(tmp_path, "llama-linear-tied")
    assert load_tracing_model(tmp_path).cfg.bos_token_id is None  # no tokenizer_config.json, no template
    tok = train_byte_bpe()
    eot = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", eot)])
    tok.save(str(tmp_path / "tokenizer.json"))
    assert load_tracing_model(tmp_path).trace("the cat").token_ids[0] == eot  # Llama 3 style
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"add_bos_token": False}))
    assert load_tracing_model(tmp_path).cfg.bos_token_id is None


def test_trace_cap_follows_model_size():
    from model.loading import PRETRAINED_MAX_TOKENS, pretrained_max_tokens

    gpt2_small = ModelConfig(vocab_size=50257, n_ctx=1024, d_model=768, n_layers=12, n_heads=12)
    smollm2 = ModelConfig(vocab_size=49152, n_ctx=8192, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3,
                          d_mlp=1536, positional="rope", norm="rmsnorm", activation="silu", gated_mlp=True)
    llama_1b = ModelConfig(vocab_size=128256, n_ctx=131072, d_model=2048, n_layers=16, n_heads=32, n_kv_heads=8,
                           d_mlp=8192, positional="rope", norm="rmsnorm", activation="silu", gated_mlp=True)
    assert pretrained_max_tokens(gpt2_small) == PRETRAINED_MAX_TOKENS == 128
    assert pretrained_max_tokens(smollm2) == 96
    assert pretrained_max_tokens(llama_1b) == 32
