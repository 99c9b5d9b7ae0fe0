"""16- and 8-bit weights in the tracer (model/core/int8.py, TracingModel's precisions).

Tolerances, measured on the tiny GPT-2 below:

* float16 weights, incremental vs full pass: the same packed weights and kernel, one row or
  many; they agree to ~7e-7 of each field's scale, so the float32 default (1e-5) holds.
* int8, incremental vs full: each product quantises its input from that call's own range
  (one new row while typing, every row in a full pass), so the two differ by int8's own
  rounding noise (up to 0.13 of a pattern's scale here), not by float32 rounding. The bound
  is derived from the same text's full int8 pass: the typed trace's distance from float32 is
  at most INT8_TYPING_NOISE times the full pass's (measured over 64 random edits: at most
  2.3× for patterns, 1.3× for the residual stream and the logits).
* Exact numbers (TracingModel.exact / exact_trace) multiply by the very float32 weights the
  float32 model has: equal to it to float32 rounding (1e-5 of scale).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.analysis.ablation import knocked_out
from model.core.incremental import full_pass_reference
from model.core.int8 import (
    Fp16Linear,
    Int8Linear,
    lowbit_layers,
    lowbit_steps,
    product_linears,
    weight_bytes_per_token,
)
from model.core.precision import module_precision
from model.loading import load_tracing_model
from model.work import probes
from model.work.requests import Lens
from tests.model.conformance import assert_same_trace
from tests.model.test_incremental import apply, edits
from tests.numerics import assert_close, assert_differ

TEXTS = ["the king and the queen", "the eiffel tower is in paris"]
INT8_TYPING_NOISE = 3.0


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    from tests.model.test_hf_gpt2 import make_gpt2

    folder = tmp_path_factory.mktemp("lowbit") / "tiny-gpt2"
    make_gpt2(folder)
    return folder


@pytest.fixture(scope="module")
def float32(gpt2_folder):
    return load_tracing_model(str(gpt2_folder))


@pytest.fixture(scope="module", params=["float16", "int8"])
def lowbit(request, gpt2_folder):
    return load_tracing_model(str(gpt2_folder), precision=request.param)


def test_every_product_is_converted_and_the_trace_says_so(lowbit, float32):
    layer_type = Fp16Linear if lowbit.precision == "float16" else Int8Linear
    layers = lowbit_layers(lowbit.module)
    assert len(layers) == 4 * lowbit.cfg.n_layers + 1 and all(isinstance(x, layer_type) for x in layers)
    assert module_precision(lowbit.module) == lowbit.precision
    assert lowbit.trace(TEXTS[0]).precision == lowbit.info().precision == lowbit.precision
    # half or a quarter of float32's bytes per token (int8 adds a scale and a zero point per row)
    float_bytes = weight_bytes_per_token(float32.module)
    rows = sum(x.out_features for x in layers)
    want = float_bytes / 2 if lowbit.precision == "float16" else float_bytes / 4 + 8 * rows
    assert weight_bytes_per_token(lowbit.module) == want
    # the weights panels read stay float32's own
    assert all(layer.weight.dtype == torch.float32 for layer in layers)


def test_smaller_weights_change_the_numbers_and_exact_gives_float32s_back(lowbit, float32):
    for text in TEXTS:
        live = full_pass_reference(lowbit, text, "all")
        want = full_pass_reference(float32, text, "all")
        assert_differ(live.pattern, want.pattern, 1e-7, scale=1.0, what="the live pattern really is rounded")
        with lowbit.exact():
            exact = full_pass_reference(lowbit, text, "all")
        assert exact.precision == "float32"
        assert_same_trace(dataclasses.replace(exact, model_name=want.model_name), want, what="exact")
        kept = lowbit.exact_trace(text, "all")
        assert kept is lowbit.exact_trace(text, "all")  # one float32 pass per text, shared
        assert_close(kept.pattern, want.pattern, 1e-5, scale=1.0, what="exact_trace pattern")
    assert lowbit.trace(TEXTS[0]).precision == lowbit.precision  # the live path is back


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from(TEXTS), sequence=edits)
def test_incremental_equals_full_at_both_precisions(lowbit, float32, start, sequence):
    text = start
    for edit in sequence:
        text = apply(text, edit) if apply(text, edit).strip() else "a"
        incremental = lowbit.trace(text, logit_positions="all")
        full = full_pass_reference(lowbit, text, "all")
        assert incremental.precision == full.precision == lowbit.precision
        if lowbit.precision == "float16":
            assert_same_trace(incremental, full)
            continue
        # int8: typing stays as close to float32 as a full pass, to INT8_TYPING_NOISE (docstring)
        reference = full_pass_reference(float32, text, "all")
        for name in ("resid_post", "pattern", "logits"):
            noise = float(np.abs(getattr(full, name) - getattr(reference, name)).max())
            assert_close(getattr(incremental, name), getattr(reference, name), INT8_TYPING_NOISE * noise + 1e-6,
                         scale=1.0, what=f"int8 incremental {name} against float32 (a full pass: {noise:.3g})")


def test_conversion_in_steps_leaves_the_model_float32_until_the_last(gpt2_folder):
    model = load_tracing_model(str(gpt2_folder))
    before = full_pass_reference(model, TEXTS[1], "all")
    steps = lowbit_steps(model.module, "float16")
    done, total = next(steps)
    assert 0 < done < total
    during = full_pass_reference(model, TEXTS[1], "all")
    np.testing.assert_array_equal(during.logits, before.logits)  # the very same float32 module and ops
    assert not lowbit_layers(model.module)
    last = list(steps)[-1]
    assert last[0] == last[1] and len(lowbit_layers(model.module)) == len(product_linears(load_tracing_model(
        str(gpt2_folder)).module))


def test_the_precision_job_builds_measures_and_reports(gpt2_folder):
    model = load_tracing_model(str(gpt2_folder))
    model.trace(TEXTS[0])
    results = [r for *_, r in model.precision_job("int8") if r is not None]
    assert results == [model] and model.precision == "int8"
    info = model.info()
    assert info.precision == "int8" and info.precision_asked == "int8"
    assert 0.0 < info.top1_agreement <= 1.0 and "top-1 agreement" in info.fidelity_summary
    with pytest.raises(ValueError, match="already"):
        next(model.precision_job("float16"))


def test_auto_keeps_a_small_model_float32_and_measures_a_large_one(gpt2_folder, monkeypatch):
    small = load_tracing_model(str(gpt2_folder), precision="auto")
    assert small.precision == "float32" and small.precision_speeds == {}
    import model.tracer.runner as runner

    monkeypatch.setattr(runner, "AUTO_MIN_PARAMETERS", 0)  # as if it were a real-sized model
    model = load_tracing_model(str(gpt2_folder), precision="auto")
    assert set(model.precision_speeds) == {"float32", "float16", "int8"}
    assert all(ms > 0 for ms in model.precision_speeds.values())
    faster = model.precision_speeds["float16"] <= 0.85 * model.precision_speeds["float32"]
    assert model.precision == ("float16" if faster else "float32")


def test_knock_out_lens_and_sampling_work_at_8_bits(gpt2_folder):
    model = load_tracing_model(str(gpt2_folder), precision="int8")
    text = TEXTS[0]
    base = model.trace(text)
    with knocked_out(model.module, [(0, 0), (1, 1)], "zero"):
        knocked = model.trace(text)
    assert_differ(knocked.logits, base.logits, 1e-4, what="a knock-out changes the int8 logits")
    lens = probes.run(model, Lens(text), base)
    assert lens.text == text and np.isfinite(lens.top_probs).all()
    from model.core.sampling import next_token_distribution

    p = next_token_distribution(base.logits[-1], temperature=0.7)
    assert p.probs.sum() == pytest.approx(1.0, abs=1e-5) and np.isfinite(p.probs).all()


def test_a_model_that_reads_chinese_is_measured_on_chinese_too():
    from model.analysis.fidelity import HELD_OUT_CHINESE, HELD_OUT_TEXTS, held_out_texts

    english = ["the", "Ġcat", "a", "b"]
    chinese = english + sorted({c for text in HELD_OUT_CHINESE for c in text if c.isalnum()})
    assert held_out_texts(english) == HELD_OUT_TEXTS
    assert held_out_texts(chinese) == HELD_OUT_TEXTS + HELD_OUT_CHINESE
