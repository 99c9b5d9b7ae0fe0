"""The NumPy forward pass of the app's fast start (model/tracer/numpy_forward.py): its GELU, its
ModelInfo (the torch model's, field by field), its cap, what it refuses, and that it never
imports torch. Its Traces are held to the torch model's in tests/model/test_conformance.py,
over every shape it covers."""

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
from model.core.transformer import Transformer
from model.core.weights import save_model
from model.tracer.numpy_forward import NumpyTracingModel, erf, gelu, unsupported
from tests.model import conformance
from tests.model.conftest import tiny_config
from tests.model.test_conformance import NUMPY_REL
from tests.numerics import assert_close


def assert_same_trace(expected, actual, tolerance: float = NUMPY_REL) -> None:
    """The NumPy trace ``actual`` is the torch trace ``expected``, to the conformance suite's
    NumPy tolerance (tests/model/test_conformance.py). Kept under this name for
    tests/explorer/test_worker.py."""
    conformance.assert_same_trace(actual, expected, tolerance, rel_each=tolerance)


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


def test_the_cap_keeps_the_bos_and_the_most_recent_tokens(bundled_pair):
    _, numpy_model = bundled_pair
    trace = numpy_model.trace(" ".join(f"word{i % 17}" for i in range(300)))
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
def _tiny_folder(tmp_path, wordpiece_file, **overrides) -> None:
    torch.manual_seed(0)
    module = Transformer(tiny_config(bos_token_id=2, **overrides)).eval()
    save_model(module, tmp_path)
    (tmp_path / "tokenizer.json").write_bytes(Path(wordpiece_file).read_bytes())


def test_it_refuses_what_it_does_not_cover():
    assert unsupported(tiny_config()) == ""
    assert "not causal" in unsupported(tiny_config(causal=False, norm_placement="post"))
    assert "rotary" in unsupported(tiny_config(positional="rope", norm="rmsnorm", activation="silu", gated_mlp=True))
    with pytest.raises(ValueError, match="does not cover"):
        NumpyTracingModel(ModelConfig(vocab_size=10, d_model=8, n_heads=2, causal=False), {}, None)


def test_a_weight_that_is_not_finite_is_refused_naming_it(tmp_path, wordpiece_file):
    from safetensors.numpy import load_file, save_file

    _tiny_folder(tmp_path, wordpiece_file, positional="sinusoidal")
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["blocks.1.mlp.fc.weight"][3, 4] = np.nan
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelFileError, match="blocks.1.mlp.fc.weight"):
        NumpyTracingModel.from_folder(tmp_path)
