"""The NumPy forward pass of the app's fast start (model/tracer/numpy_forward.py) against the torch
model it stands in for: the same Trace, field by field, and the same ModelInfo."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.paths import BUNDLED_MODEL_DIR, BUNDLED_NAME
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.core.weights import save_model
from model.tracer.numpy_forward import NumpyTracingModel, erf, gelu, unsupported
from model.tracer.runner import TracingModel
from tests.model.conftest import tiny_config
from tests.numerics import assert_close

ARRAYS = [f.name for f in fields(__import__("model.core.trace", fromlist=["Trace"]).Trace)
          if f.name not in ("request_id", "model_name", "text", "token_strings", "offsets", "special", "causal",
                            "n_input_tokens", "forward_ms", "sliding_window", "precision")]
TEXTS = [
    "a fluffy blue creature roamed the verdant forest",
    "注意力机制 is attention in Chinese",
    "the robot 🤖 waved 👋 at the cat",
    "",  # one token: BOS alone
    " ".join(f"word{i % 17}" for i in range(300)),  # beyond the 128-token cap: the last tokens
]


def assert_same_trace(expected, actual, tolerance=1e-5):
    """Every array within ``tolerance`` of its value and of the field's largest magnitude
    (at least 1). Not 1e-5 absolute per element: torch's own float32 is 2.6e-5 away from a
    float64 pass in the bundled model's scores (largest 26), and NumPy's float32 as far; the
    two differ by up to 1.8e-5 there. The tanh approximation of GELU in place of the exact one
    misses this tolerance 20-180-fold in every field."""
    for name in ("text", "model_name", "token_strings", "offsets", "special", "causal", "n_input_tokens",
                 "sliding_window", "precision"):
        assert getattr(actual, name) == getattr(expected, name), name
    for name in ARRAYS:
        a, b = getattr(expected, name), getattr(actual, name)
        if a is None:
            assert b is None, name
            continue
        assert b is not None and a.shape == b.shape and a.dtype == b.dtype, name
        assert_close(b, a, tolerance, floor=1.0, rel_each=tolerance, what=name)  # -inf where the model cannot predict


@pytest.fixture(scope="module")
def bundled_pair():
    if not (BUNDLED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("the bundled model is not in assets/teaching-model")
    from model.loading import load_tracing_model

    return load_tracing_model("bundled"), NumpyTracingModel.from_folder(BUNDLED_MODEL_DIR, name=BUNDLED_NAME)


def test_erf_matches_the_standard_library_to_a_few_ulp():
    x = np.concatenate([np.linspace(-9, 9, 36001), [0.0, 1e-9, -1e-9, 1.0, -1.0, 8.0, 30.0, -30.0]])
    expected = np.array([math.erf(v) for v in x])
    assert_close(erf(x), expected, 1e-15, rel_each=1e-15, what="erf")  # a few float64 ulp of each value


def test_gelu_is_torchs_exact_gelu():
    x = torch.linspace(-12, 12, 20001)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.double().tolist()])
    assert_close(gelu(x.numpy()), exact, 1e-13, rel_each=1e-7, what="gelu")  # float32 of the float64 value
    # torch computes 1 + erf in float32: near x = -5 its tail is off by up to ~1e-6 absolute
    assert_close(gelu(x.numpy()), torch.nn.functional.gelu(x), 1e-6, scale=1.0, rel_each=1e-6, what="torch's gelu")


@pytest.mark.parametrize("text", TEXTS, ids=["english", "chinese", "emoji", "one-token", "at-the-cap"])
@pytest.mark.parametrize("positions", [[-1], [0, -1], "all"], ids=["last", "first-and-last", "all"])
def test_the_numpy_trace_is_the_torch_trace_of_the_bundled_model(bundled_pair, text, positions):
    torch_model, numpy_model = bundled_pair
    torch_model.forget_last_trace()  # a full pass, not the rows of the previous test's text
    expected = torch_model.trace(text, 7, positions)
    actual = numpy_model.trace(text, 7, positions)
    assert actual.request_id == 7
    assert_same_trace(expected, actual)


def test_the_cap_keeps_the_bos_and_the_most_recent_tokens(bundled_pair):
    _, numpy_model = bundled_pair
    trace = numpy_model.trace(TEXTS[-1])
    assert trace.n_tokens == numpy_model.max_tokens == 128 and trace.truncated
    assert trace.token_ids[0] == numpy_model.cfg.bos_token_id


def test_the_model_info_is_the_torch_models(bundled_pair):
    torch_model, numpy_model = bundled_pair
    expected, actual = torch_model.info(source="bundled"), numpy_model.info(source="bundled")
    for f in fields(expected):
        a, b = getattr(expected, f.name), getattr(actual, f.name)
        if f.name == "head_weights":
            for g in fields(a):
                x, y = getattr(a, g.name), getattr(b, g.name)
                if isinstance(x, tuple):
                    assert len(x) == len(y) and all(np.array_equal(p, q) for p, q in zip(x, y, strict=True)), g.name
                elif isinstance(x, np.ndarray):
                    np.testing.assert_array_equal(x, y, err_msg=g.name)
                else:
                    assert x == y, g.name
        elif f.name == "structure":
            assert a.counts == b.counts and (a.positional, a.sinusoid_base, a.tied) == (b.positional, b.sinusoid_base, b.tied)
            assert_close(b.positions, a.positions, what="positions")  # NumPy's sines vs torch's, then float32
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        else:
            assert a == b, f.name


def test_nothing_on_the_numpy_path_imports_torch():
    script = textwrap.dedent("""
        import sys
        from model.tracer.numpy_forward import NumpyTracingModel
        from model.core.paths import BUNDLED_MODEL_DIR
        model = NumpyTracingModel.from_folder(BUNDLED_MODEL_DIR)
        model.info("bundled")
        model.trace("a fluffy blue creature", 0, [0, -1])
        print("torch" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


# ------------------------------------------------------------------ tiny models of other shapes
def _pair(tmp_path, wordpiece_file, **overrides):
    torch.manual_seed(0)
    module = Transformer(tiny_config(bos_token_id=2, **overrides)).eval()
    for p in module.parameters():  # biases and norms away from their initial 0 and 1
        p.data.add_(0.05 * torch.randn_like(p))
    save_model(module, tmp_path)
    (tmp_path / "tokenizer.json").write_bytes(Path(wordpiece_file).read_bytes())
    expected = TracingModel(module, TextTokenizer.from_file(wordpiece_file, bos_token_id=2))
    return expected, NumpyTracingModel.from_folder(tmp_path, name="tiny")


@pytest.mark.parametrize("overrides", [
    dict(positional="sinusoidal"),
    dict(positional="learned", unembed_bias=True),
    dict(positional="sinusoidal", d_embed=24, output_token_ids=tuple(range(10, 190)), adaptive_cutoffs=(40, 100),
         adaptive_tied=True, unembed_bias=True),
], ids=["sinusoidal", "learned", "adaptive-tied"])
def test_tiny_models_of_the_shapes_it_covers(tmp_path, wordpiece_file, overrides):
    expected, actual = _pair(tmp_path, wordpiece_file, **overrides)
    for text in ("the cat sat on the mat", "", "a b c d e f g h i j k l m n o p q r"):
        assert_same_trace(expected.trace(text, 0, "all"), actual.trace(text, 0, "all"))


def test_it_refuses_what_it_does_not_cover():
    assert unsupported(tiny_config()) == ""
    assert "not causal" in unsupported(tiny_config(causal=False, norm_placement="post"))
    assert "rotary" in unsupported(tiny_config(positional="rope", norm="rmsnorm", activation="silu", gated_mlp=True))
    with pytest.raises(ValueError, match="does not cover"):
        NumpyTracingModel(ModelConfig(vocab_size=10, d_model=8, n_heads=2, causal=False), {}, None)


def test_a_weight_that_is_not_finite_is_refused_naming_it(tmp_path, wordpiece_file):
    from safetensors.numpy import load_file, save_file

    _pair(tmp_path, wordpiece_file, positional="sinusoidal")
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["blocks.1.mlp.fc.weight"][3, 4] = np.nan
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelFileError, match="blocks.1.mlp.fc.weight"):
        NumpyTracingModel.from_folder(tmp_path)
