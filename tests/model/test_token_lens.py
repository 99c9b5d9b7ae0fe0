"""The logit lens's two more questions (issue #26): the rank of a chosen token across layers,
and two tokens compared layer by layer (" is" against " are"). The last layer is the model's
own prediction; the difference there is direct logit attribution's contrast."""

from __future__ import annotations

import numpy as np
import pytest

from model.analysis.dla import attribute
from model.analysis.lens import LensUnavailable, logit_lens, token_lens
from model.analysis.tokens import single_token
from model.loading import load_tracing_model
from tests.model.conftest import requires_smollm2
from tests.model.test_hf_gpt2 import make_gpt2
from tests.model.test_hf_llama import make as make_llama
from tests.numerics import assert_close


def _check(model, text, a_text, b_text):
    trace = model.trace(text)
    a, b = single_token(model.tokenizer, a_text), single_token(model.tokenizer, b_text)
    lens = token_lens(model.module, trace.resid_post, -1, [a, b])
    L = trace.n_layers
    assert lens.logits.shape == lens.log_probs.shape == lens.ranks.shape == (L, 2)
    assert lens.position == trace.n_tokens - 1 and list(lens.tokens) == [a, b]
    # the last row is the model's own prediction
    assert_close(lens.probs[-1], trace.probs_at(-1)[[a, b]], 1e-4, what="p at the last layer")
    for k, token in enumerate((a, b)):
        assert lens.ranks[-1, k] == 1 + int((trace.probs_at(-1) > trace.probs_at(-1)[token]).sum())
    # the same ranks and probabilities the ladder's tracked tokens get
    ladder = logit_lens(model.module, trace.resid_post, text, track=(a, b))
    assert np.array_equal(lens.ranks, ladder.tracked_ranks[:, -1])
    assert_close(lens.probs, ladder.tracked_probs[:, -1], 1e-5, what="tracked probabilities")
    # the logit difference after the last block is DLA's contrast
    contrast = attribute(model.module, trace, -1, a, b)
    assert lens.logit_difference[-1] == pytest.approx(contrast.logit, rel=1e-4, abs=1e-4)
    return trace, lens


def test_bundled_model_is_against_are():
    model = load_tracing_model("bundled")
    _, lens = _check(model, "the cats on the mat", " is", " are")
    assert np.isfinite(lens.logits).all() and (lens.ranks >= 1).all()


def test_gpt2_linear_head_differences_agree(tmp_path):
    make_gpt2(tmp_path)
    model = load_tracing_model(tmp_path)
    trace = model.trace("the king and the queen")
    order = np.argsort(-trace.logits_at(-1))
    lens = token_lens(model.module, trace.resid_post, -1, [int(order[0]), int(order[1])])
    # a linear unembedding: the log-probability difference is the logit difference at every layer
    assert_close(lens.log_prob_difference, lens.logit_difference, 1e-4, what="log p − log p vs logit − logit")
    assert lens.logits[-1, 0] == pytest.approx(float(trace.logits_at(-1)[order[0]]), rel=1e-4, abs=1e-4)
    assert lens.ranks[-1, 0] == 1 and lens.first_layer_on_top(0) is not None
    assert lens.first_layer_on_top(1) is None  # second at the end: never settles on top


def test_one_token_s_rank_across_layers(tmp_path):
    make_llama(tmp_path, "qwen2-biases-tied")
    model = load_tracing_model(tmp_path)
    trace = model.trace("the king and the queen")
    top = int(np.argmax(trace.logits_at(-1)))
    lens = token_lens(model.module, trace.resid_post, -1, [top])
    assert lens.ranks.shape == (trace.n_layers, 1) and lens.ranks[-1, 0] == 1
    with pytest.raises(ValueError, match="two tokens"):
        _ = lens.logit_difference


@requires_smollm2
def test_smollm2_is_against_are():
    model = load_tracing_model("smollm2")
    _, lens = _check(model, "The keys to the cabinet", " is", " are")
    assert lens.log_prob_difference[-1] < 0  # the model prefers " are" at the end


def test_a_model_without_a_head_and_an_unpredictable_token_are_refused(tmp_path):
    from tests.model.test_hf_bert import make_bert

    make_bert(tmp_path / "bert")
    bert = load_tracing_model(tmp_path / "bert")
    with pytest.raises(LensUnavailable, match="no language-model head"):
        token_lens(bert.module, bert.trace("the queen").resid_post, -1, [5])
    model = load_tracing_model("bundled")
    never = next(t for t in range(1000, 30000) if t not in set(model.module.cfg.output_token_ids))
    with pytest.raises(ValueError, match="cannot be predicted"):
        token_lens(model.module, model.trace("the cat").resid_post, -1, [never])
    with pytest.raises(ValueError, match="at least one"):
        token_lens(model.module, model.trace("the cat").resid_post, -1, [])


def test_the_lens_in_chunks_of_cells_equals_the_lens_at_once(monkeypatch):
    """A 262,144-token vocabulary (Gemma 3) is scanned a few cells at a time: the top tokens,
    their probabilities and a tracked token's rank do not depend on the chunk."""
    import torch

    from model.analysis import lens
    from model.core.transformer import Transformer
    from tests.model.conftest import tiny_config
    from tests.numerics import assert_close

    torch.manual_seed(0)
    module = Transformer(tiny_config(norm="rmsnorm")).eval()
    resid = torch.randn(2, 5, module.cfg.d_model).numpy()
    whole = lens.logit_lens(module, resid, track=(3, 7))
    monkeypatch.setattr(lens, "LENS_CHUNK_VALUES", 3 * module.cfg.n_outputs)  # three cells at a time
    parts = lens.logit_lens(module, resid, track=(3, 7))
    np.testing.assert_array_equal(parts.top_ids, whole.top_ids)
    np.testing.assert_array_equal(parts.tracked_ranks, whole.tracked_ranks)
    assert_close(parts.top_probs, whole.top_probs, what="top probabilities")
    assert_close(parts.tracked_probs, whole.tracked_probs, what="tracked probabilities")
