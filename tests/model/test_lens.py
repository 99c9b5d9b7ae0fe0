from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.lens import LensUnavailable, lens_logprobs, logit_lens
from model.core.transformer import Transformer
from model.tracer.runner import TracingModel
from tests.model.conftest import tiny_config
from tests.numerics import assert_close


def test_the_last_layer_of_the_lens_is_the_models_own_prediction(tracing_model: TracingModel):
    trace = tracing_model.trace("the cat sat on the mat", logit_positions="all")
    lens = logit_lens(tracing_model.module, trace.resid_post, track=[int(trace.probs[-1].argmax())])
    np.testing.assert_array_equal(lens.top_ids[-1, :, 0], trace.probs.argmax(-1))
    assert_close(lens.top_probs[-1, :, 0], trace.probs.max(-1), what="top probabilities")
    assert lens.tracked_ranks[-1, -1, 0] == 1


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_each_vector_is_normalised_with_its_own_statistics(norm):
    torch.manual_seed(0)
    model = Transformer(tiny_config(norm=norm)).eval()
    resid = torch.randn(3, 5, model.cfg.d_model) * torch.arange(1, 4)[:, None, None]  # scales differ by layer
    got = lens_logprobs(model, resid.numpy())
    x = resid.double()
    if norm == "layernorm":
        h = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)
        h = h * model.ln_f.weight.double() + model.ln_f.bias.double()
    else:
        h = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * model.ln_f.weight.double()
    logits = h @ model.unembed.weight.double().T
    assert_close(got, torch.log_softmax(logits, -1), what="float32 lens vs float64 formula")


def test_tracked_ranks_and_probabilities(tracing_model: TracingModel):
    trace = tracing_model.trace("a fluffy blue creature")
    lens = logit_lens(tracing_model.module, trace.resid_post, track=[5, 9])
    logp = lens_logprobs(tracing_model.module, trace.resid_post).numpy()
    assert_close(lens.tracked_probs[..., 1], np.exp(logp[..., 9]), what="tracked probabilities")
    np.testing.assert_array_equal(lens.tracked_ranks[..., 0], (logp > logp[..., 5:6]).sum(-1) + 1)


def test_an_encoder_without_an_lm_head_has_no_lens():
    model = Transformer(tiny_config(has_lm_head=False, causal=False)).eval()
    with pytest.raises(LensUnavailable, match="no language-model head"):
        logit_lens(model, np.zeros((2, 3, model.cfg.d_model), dtype=np.float32))


def test_the_lens_of_a_grown_text_reuses_the_unchanged_positions_and_equals_a_fresh_one(tracing_model):
    from model.work.probes import lens
    from model.work.requests import Lens

    memo: dict = {}
    lens(tracing_model, Lens("the cat sat on", track=(7,)), memo=memo)
    grown = lens(tracing_model, Lens("the cat sat on the mat", track=(7,)), memo=memo)
    fresh = lens(tracing_model, Lens("the cat sat on the mat", track=(7,)))
    np.testing.assert_array_equal(grown.top_ids, fresh.top_ids)
    assert_close(grown.top_probs, fresh.top_probs, what="top probabilities")
    assert_close(grown.tracked_probs, fresh.tracked_probs, what="tracked probabilities")
    np.testing.assert_array_equal(grown.tracked_ranks, fresh.tracked_ranks)


@pytest.fixture(scope="module")
def bundled():
    from model.loading import load_tracing_model

    return load_tracing_model("bundled")


@pytest.mark.parametrize("after", ["the cat sat on ", "the cat sat", "the cat sat on"])
def test_a_keystroke_that_adds_no_token_or_removes_one_keeps_the_lens_right(bundled, after):
    """A trailing space leaves the word-piece tokens as they were, a backspace over a word
    drops one: the remembered lens has every row already. (It used to run the lens of zero
    rows, which the bundled model's clustered output layer cannot reshape.)"""
    from model.work.probes import lens
    from model.work.requests import Lens

    memo: dict = {}
    lens(bundled, Lens("the cat sat on", track=(7,)), memo=memo)
    again = lens(bundled, Lens(after, track=(7,)), memo=memo)
    fresh = lens(bundled, Lens(after, track=(7,)))
    assert again.text == after
    np.testing.assert_array_equal(again.top_ids, fresh.top_ids)
    assert_close(again.tracked_probs, fresh.tracked_probs, what="tracked probabilities")


def test_the_lens_names_full_vocabulary_ids_for_a_model_with_an_output_list():
    torch.manual_seed(0)
    outputs = tuple(range(50, 150))
    model = Transformer(tiny_config(output_token_ids=outputs)).eval()
    resid = np.random.default_rng(0).normal(size=(2, 3, model.cfg.d_model)).astype(np.float32)
    got = logit_lens(model, resid, track=[60, 10])
    full = lens_logprobs(model, resid).numpy()
    np.testing.assert_array_equal(got.top_ids[..., 0], full.argmax(-1))
    assert_close(got.tracked_probs[..., 0], np.exp(full[..., 60]), what="tracked probabilities")
    assert (got.tracked_probs[..., 1] == 0).all()  # id 10 is not an output: probability 0
