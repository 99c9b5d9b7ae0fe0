"""Input saliency against Captum (issue #26), and complete on every family.

Captum's IntegratedGradients and InputXGradient run on a forward function written here from
the model's own forward pass (``Transformer.hidden`` with the embedding output replaced by a
hook), not from model.analysis.saliency's forward-from-embeddings: the two must give the same
per-token scores. Captum is a test dependency only: the app's own loop steps between chunks,
reports progress and can be cancelled, which Captum's ``internal_batch_size`` cannot.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.dla import unembedding_direction
from model.analysis.saliency import default_baseline, saliency
from model.loading import load_tracing_model
from tests.model.conftest import requires_smollm2
from tests.model.test_hf_gpt2 import make_gpt2
from tests.model.test_hf_llama import make as make_llama
from tests.numerics import assert_close

captum_attr = pytest.importorskip("captum.attr", reason="captum is in the [test] extra")

TEXT = "the king and the queen, the man and the woman"


def _objective(module, target, contrast=None):
    w, b = unembedding_direction(module, target)
    if contrast is not None:
        w_b, b_b = unembedding_direction(module, contrast)
        w, b = w - w_b, b - b_b
    return torch.tensor(w, dtype=torch.float32), float(b)


def _forward_from_the_model(module, ids, position, target, contrast=None):
    """f(E) through ``module.hidden`` itself: a hook puts E where the embedding's output was."""
    idx = torch.tensor([list(ids)])
    w, b = _objective(module, target, contrast)
    layer = module.embed_proj if module.embed_proj is not None else module.tok_embed

    def forward(embeds: torch.Tensor) -> torch.Tensor:  # (B, T, d) -> (B,)
        handle = layer.register_forward_hook(lambda _m, _a, _out: embeds)
        try:
            h = module.hidden(idx.expand(embeds.shape[0], -1))
        finally:
            handle.remove()
        return h[:, position] @ w + b

    with torch.no_grad():
        embeds = module.embed(idx).float()
    return forward, embeds


def _against_captum(model, ids, position, target, contrast=None, steps=16, baseline="zero", pad_id=0):
    module = model.module
    ours = saliency(module, ids, position, target, contrast, steps=steps, baseline=baseline, pad_id=pad_id)
    forward, embeds = _forward_from_the_model(module, ids, position % len(ids), target, contrast)
    if baseline == "zero":
        base = torch.zeros_like(embeds)
    else:
        with torch.no_grad():
            base = module.embed(torch.full((1, len(ids)), pad_id)).float()
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        ig = captum_attr.IntegratedGradients(forward)
        theirs, delta = ig.attribute(embeds, baselines=base, n_steps=steps, method="riemann_middle",
                                     return_convergence_delta=True)
        gxi = captum_attr.InputXGradient(forward).attribute(embeds.clone().requires_grad_(True))
    finally:
        for p in module.parameters():
            p.requires_grad_(True)
    theirs = theirs.sum(-1)[0].double().numpy()
    assert_close(ours.integrated_gradients, theirs, 1e-4, what="integrated gradients vs Captum")
    assert_close(ours.grad_x_input, gxi.sum(-1)[0].detach().double().numpy(), 1e-4, what="gradient × input vs Captum")
    # Captum's convergence delta is Σ IG − (f(x) − f(x')): the same gap ours reports
    want = ours.f_input - ours.f_baseline
    assert float(delta) == pytest.approx(float(ours.integrated_gradients.sum()) - want, abs=1e-3 * max(1.0, abs(want)))
    return ours


def test_bundled_model_matches_captum():
    model = load_tracing_model("bundled")
    trace = model.trace("the cat sat on the mat . the cat sat on the")
    target = int(np.argmax(trace.logits_at(-1)))
    _against_captum(model, trace.token_ids, -1, target)
    _against_captum(model, trace.token_ids, 4, target, baseline="pad", pad_id=0)


@pytest.mark.parametrize("family", ["gpt2", "llama-llama3-untied"])
def test_a_contrast_on_gpt2_and_llama_matches_captum(tmp_path, family):
    make_gpt2(tmp_path) if family == "gpt2" else make_llama(tmp_path, family)
    model = load_tracing_model(tmp_path)
    trace = model.trace(TEXT)
    order = np.argsort(-trace.logits_at(-1))
    _against_captum(model, trace.token_ids, -1, int(order[0]), int(order[1]),
                    baseline=default_baseline(model.module), pad_id=0)


@pytest.mark.parametrize("family", ["gpt2", "llama-llama3-untied", "mistral-window", "qwen3-qknorm-yarn"])
def test_integrated_gradients_are_complete_on_every_family(tmp_path, family):
    make_gpt2(tmp_path) if family == "gpt2" else make_llama(tmp_path, family)
    model = load_tracing_model(tmp_path)
    trace = model.trace(TEXT)
    target = int(np.argmax(trace.logits_at(-1)))
    s = saliency(model.module, trace.token_ids, -1, target, steps=64, baseline=default_baseline(model.module), pad_id=0)
    assert abs(s.f_input - s.f_baseline) > 1e-3
    assert s.completeness_gap < 0.05, (s.integrated_gradients.sum(), s.f_input - s.f_baseline)
    # f(x) is the model's own logit for the target
    assert s.f_input == pytest.approx(float(trace.logits_at(-1)[target]), rel=1e-4, abs=1e-4)


@requires_smollm2
def test_smollm2_mary_over_john_is_complete():
    from model.analysis.tokens import single_token

    model = load_tracing_model("smollm2")
    text = "When Mary and John went to the store, John gave a drink to"
    ids = model.trace(text).token_ids
    mary, john = single_token(model.tokenizer, " Mary"), single_token(model.tokenizer, " John")
    s = saliency(model.module, ids, -1, mary, john, steps=64, baseline="pad", pad_id=0)
    assert s.f_input > 0 and s.completeness_gap < 0.05
