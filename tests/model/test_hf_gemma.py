"""Gemma 2 and Gemma 3 (issue #27): random small configs of both families, saved by
transformers, loaded by the app, equal to transformers' eager forward pass — logits, every
layer's input, every attention pattern — tied and untied, sharded, with local (sliding
window) and global layers, soft-capping (Gemma 2), q/k norms and two RoPE bases (Gemma 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from model.loading import available_models, folder_kind, load_tracing_model
from tests.model.conftest import train_byte_bpe
from tests.model.test_hf_llama import randomise
from tests.numerics import assert_close

REL = 1e-5  # float32 in another order, as for the Llama layout (tests/README.md); 1e-4 is the bar
TEXT = "the king and the queen, the man and the woman, the cat and the cats"
COMMON = dict(hidden_size=32, intermediate_size=48, num_attention_heads=4, max_position_embeddings=64, head_dim=16)
LAYERS = ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]
FAMILIES = {
    "gemma2-softcaps-tied": lambda V: transformers.Gemma2Config(
        vocab_size=V, num_hidden_layers=4, num_key_value_heads=2, sliding_window=5, query_pre_attn_scalar=24,
        attn_logit_softcapping=15.0, final_logit_softcapping=5.0, tie_word_embeddings=True, **COMMON),
    "gemma3-two-bases-untied": lambda V: transformers.Gemma3TextConfig(
        vocab_size=V, num_hidden_layers=4, num_key_value_heads=1, sliding_window=4, layer_types=LAYERS,
        query_pre_attn_scalar=16, tie_word_embeddings=False,
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 100.0}}, **COMMON),
    "gemma3-pattern-tied": lambda V: transformers.Gemma3TextConfig(
        vocab_size=V, num_hidden_layers=7, num_key_value_heads=2, sliding_window=3, tie_word_embeddings=True,
        **COMMON),
}


def make(folder: Path, family: str, seed: int = 0):
    tok = train_byte_bpe()
    config = FAMILIES[family](tok.get_vocab_size())
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    randomise(model, seed)
    with torch.no_grad():  # Gemma scales by 1 + g: gains around 1 are g around 0 (not 1, which doubles each norm)
        for name, p in model.named_parameters():
            if "norm" in name:
                p.sub_(1.0)
    model.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    return model


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gemma") / request.param
    return folder, make(folder, request.param)


def test_logits_hidden_states_and_every_pattern_match_transformers(family_folder):
    folder, hf = family_folder
    model = load_tracing_model(folder)
    trace = model.trace(TEXT, logit_positions="all")
    with torch.no_grad():
        out = hf(torch.tensor(trace.token_ids)[None], output_attentions=True, output_hidden_states=True)
    L = trace.n_layers
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    for i in range(L):
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], REL, what=f"resid_pre[{i}]")
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")
    assert_close(trace.final_norm, out.hidden_states[L][0], REL, what="final_norm")
    cfg = model.module.cfg
    assert cfg.tie_embeddings == hf.config.tie_word_embeddings
    assert [cfg.layer_is_global(i) for i in range(L)] == [t == "full_attention" for t in hf.config.layer_types]


def test_local_layers_hide_keys_beyond_their_window_and_global_layers_do_not(tmp_path):
    make(tmp_path, "gemma3-two-bases-untied")
    model = load_tracing_model(tmp_path)
    trace = model.trace(TEXT)
    T = trace.n_tokens
    too_far = np.tril(np.ones((T, T), dtype=bool), k=-4)
    assert T > 6
    for layer, kind in enumerate(LAYERS):
        hidden = trace.masked_scores[layer][..., too_far]
        if kind == "sliding_attention":
            assert np.all(trace.pattern[layer][..., too_far] == 0) and np.all(np.isneginf(hidden)), layer
        else:
            assert np.all(trace.pattern[layer][..., too_far] > 0), layer
            assert np.all(np.isfinite(hidden)), layer  # a global layer's scores there are not −∞
        assert (trace.window(layer) is None) == (kind == "full_attention")


def test_the_heads_still_add_up_to_what_attention_adds_after_its_norm(tmp_path):
    """Gemma normalises attention's output before the residual stream gets it: each head's
    share (head_out) is its z W_O times that norm's scale, frozen, so the heads sum to it."""
    make(tmp_path, "gemma2-softcaps-tied")
    trace = load_tracing_model(tmp_path).trace(TEXT)
    assert_close(trace.head_out.sum(axis=1), trace.resid_mid - trace.resid_pre, REL, what="Σ heads = attention's share")


def test_sharded_checkpoint_loads(tmp_path):
    hf = make(tmp_path / "whole", "gemma3-pattern-tied")
    sharded = tmp_path / "sharded"
    hf.save_pretrained(sharded, max_shard_size="20KB")
    (sharded / "tokenizer.json").write_text((tmp_path / "whole" / "tokenizer.json").read_text())
    assert (sharded / "model.safetensors.index.json").is_file()
    whole, parts = load_tracing_model(tmp_path / "whole"), load_tracing_model(sharded)
    for name, tensor in whole.module.state_dict().items():
        np.testing.assert_array_equal(parts.module.state_dict()[name].numpy(), tensor.numpy(), err_msg=name)
    assert_close(parts.trace(TEXT).logits, whole.trace(TEXT).logits, what="logits, sharded vs whole")


def test_gemma_folders_are_found_and_opened_as_the_llama_layout(tmp_path):
    make(tmp_path / "g", "gemma2-softcaps-tied")
    assert folder_kind(tmp_path / "g") == "llama"
    assert any(choice.source == str(tmp_path / "g") for choice in available_models(extra_folders=(tmp_path,),
                                                                                     include_cache=False,
                                                                                     include_ollama=False))


def test_direct_attribution_sums_to_the_logit_on_gemma3_and_says_why_not_on_gemma2(tmp_path):
    """The heads' shares are scaled by the post-attention norm, the final norm by 1 + g: the
    parts sum to the logit (issue #26's 1e-4) on Gemma 3; Gemma 2 soft-caps its logits."""
    from model.analysis.block_steps import block_steps
    from model.analysis.dla import attribute, unavailable_reason

    make(tmp_path / "g3", "gemma3-pattern-tied")
    model = load_tracing_model(tmp_path / "g3")
    trace = model.trace(TEXT, logit_positions="all")
    target = int(np.argmax(trace.logits[-1]))
    parts = attribute(model.module, trace, -1, target)
    total = parts.heads.sum() + parts.attn_bias.sum() + parts.mlp.sum() + parts.embed + parts.final
    assert_close(total, trace.logits[-1, target], 1e-4, scale=np.abs(trace.logits[-1]).max(), what="Σ parts = logit")
    with pytest.raises(ValueError, match="four norms"):
        block_steps(model.module, trace, 0, -1)
    make(tmp_path / "g2", "gemma2-softcaps-tied")
    assert "soft-caps" in unavailable_reason(load_tracing_model(tmp_path / "g2").module.cfg)


@pytest.mark.parametrize("layers", [10**9, 10**15])
def test_a_config_claiming_a_billion_layers_is_refused_at_once(tmp_path, layers):
    """A tuple of the local layers over every claimed layer hung the load (the fuzz test of
    broken folders hung the same way on BERT's num_hidden_layers, in the memory estimate)."""
    import json
    import time

    from model.core.errors import ModelFileError

    make(tmp_path, "gemma3-pattern-tied")
    data = json.loads((tmp_path / "config.json").read_text())
    data["num_hidden_layers"] = layers
    data.pop("layer_types", None)
    (tmp_path / "config.json").write_text(json.dumps(data))
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="num_hidden_layers"):
        load_tracing_model(tmp_path)
    assert time.perf_counter() - start < 30  # not a hang: refused before anything per layer
