"""Input saliency (issue #26): integrated gradients are complete (they sum to f(x) − f(baseline))
within 5 % at 64 steps; gradient × input is the first-order term; a long run can be cancelled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.saliency import Cancelled, saliency
from model.loading import load_tracing_model
from tests.model.test_hf_llama import make as make_llama

TEXT = "the cat sat on the mat . the cat sat on the"


@pytest.fixture(scope="module")
def bundled():
    return load_tracing_model("bundled")


def _top(model, text):
    trace = model.trace(text)
    return trace, int(np.argmax(trace.logits_at(-1)))


@pytest.mark.parametrize("baseline", ["zero", "pad"])
def test_integrated_gradients_are_complete_at_64_steps(bundled, baseline):
    trace, target = _top(bundled, TEXT)
    s = saliency(bundled.module, trace.token_ids, -1, target, steps=64, baseline=baseline, pad_id=0)
    assert s.integrated_gradients.shape == (trace.n_tokens,)
    assert s.completeness_gap < 0.05, (s.integrated_gradients.sum(), s.f_input - s.f_baseline)
    assert abs(s.f_input - s.f_baseline) > 1e-3  # the test means something


def test_the_logit_it_explains_is_the_model_s(bundled):
    from model.analysis.dla import attribute

    trace, target = _top(bundled, TEXT)
    s = saliency(bundled.module, trace.token_ids, -1, target, steps=4)
    logit = attribute(bundled.module, trace, -1, target).logit
    assert abs(s.f_input - logit) <= 1e-4 * max(1.0, abs(logit))


def test_a_contrast_and_a_llama_layout_model(tmp_path):
    """A RoPE model adds no position vector: with zero embeddings as the baseline the first
    RMSNorm sees 0 and f jumps at α = 0 (RMSNorm(αE) is the same for every α > 0), which no
    Riemann sum follows — its baseline is a pad token's embedding in every position."""
    make_llama(tmp_path, "qwen2-biases-tied")
    model = load_tracing_model(tmp_path)
    trace = model.trace("the king and the queen")
    order = np.argsort(-trace.logits_at(-1))
    s = saliency(model.module, trace.token_ids, -1, int(order[0]), int(order[1]), steps=64, baseline="pad", pad_id=0)
    assert s.completeness_gap < 0.05
    assert np.isfinite(s.grad_x_input).all()


def test_cancelling_stops_between_chunks_and_leaves_the_model_as_it_was(bundled):
    trace, target = _top(bundled, TEXT)
    seen = []
    with pytest.raises(Cancelled):
        saliency(bundled.module, trace.token_ids, -1, target, steps=64, chunk=8,
                 progress=lambda done, total: seen.append(done), cancelled=lambda: len(seen) >= 2)
    assert seen == [8, 16]  # progress after each chunk of 8 of the 64 points
    assert all(p.requires_grad for p in bundled.module.parameters()) and not bundled.module.training
    with torch.inference_mode():
        again = bundled.trace(TEXT)
    assert np.array_equal(again.token_ids, trace.token_ids)
