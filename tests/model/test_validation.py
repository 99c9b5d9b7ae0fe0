"""The validation module's own contract: which fields it checks, what it estimates, and
the safety nets (forward probe, path containment) the broken-folder table relies on."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import model.core.validation as validation
from model.core.build import probe_forward
from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.transformer import Transformer
from model.core.validation import (
    CONFIG_FIELDS,
    ConfigValueError,
    check_config,
    check_config_dict,
    estimate_load_bytes,
    file_in_folder,
    positive_float,
    positive_int,
    read_json,
)
from tests.model.conftest import tiny_config


def test_every_config_field_has_a_check():
    # A new ModelConfig field passes through unchecked until it gets a row here.
    assert set(CONFIG_FIELDS) == {f.name for f in dataclasses.fields(ModelConfig)}


def test_a_saved_config_passes_its_own_checks():
    cfg = tiny_config(bos_token_id=2, output_token_ids=(1, 3, 5, 7), adaptive_cutoffs=(2,), dropout=0.1)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("value", [True, False, 4.5, 4.0, "4", None, [4], 0, -3])
def test_positive_int_refuses_everything_but_positive_ints(value):
    with pytest.raises(ConfigValueError) as info:
        positive_int(value, "n_heads")
    assert info.value.key == "n_heads" and "n_heads" in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1e-5, 0, "1e-5", True, 10**400])
def test_positive_float_refuses_non_finite_and_non_positive(value):
    with pytest.raises(ConfigValueError):
        positive_float(value, "layer_norm_eps")


def test_config_dict_is_a_value_error_naming_the_key():
    with pytest.raises(ValueError, match="dropout"):
        check_config_dict({"vocab_size": 10, "dropout": 2})


def test_memory_estimate_tracks_the_parameter_count():
    for cfg in (tiny_config(), tiny_config(d_embed=48), tiny_config(tie_embeddings=True, positional="sinusoidal"),
                tiny_config(head_dim=64, n_kv_heads=2, norm="rmsnorm", gated_mlp=True, positional="rope")):
        parts = estimate_load_bytes(cfg)
        attention = parts.get("head_dim", parts.get("n_heads", 0))
        weights = (parts["vocab_size"] + parts["n_layers"] + attention + parts["d_model"]) / 12  # float32, ×3 at load
        assert weights == pytest.approx(Transformer(cfg).num_parameters(), rel=0.1)


def test_a_huge_head_dim_is_refused_before_allocating(tmp_path, monkeypatch):
    """A hypothesis draw found head_dim 7.7e17 reaching torch.empty (the estimate left heads out)."""
    monkeypatch.setattr(validation, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(ModelFileError, match="head_dim"):
        check_config(tiny_config(head_dim=768_614_336_404_564_651), tmp_path / "config.json")


def test_memory_refusal_names_the_dominant_key(tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 64 * 2**20)
    check_config(tiny_config(), tmp_path / "config.json")  # a tiny model fits in 64 MB
    with pytest.raises(ModelFileError, match="n_positions = 100000 makes the model too large") as info:
        check_config(tiny_config(n_ctx=100_000), tmp_path / "config.json", {"n_ctx": "n_positions"})
    assert info.value.key == "n_positions"


def test_probe_catches_overflow_the_magnitude_bound_lets_through(tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "MAX_ABS_WEIGHT", float("inf"))
    module = Transformer(tiny_config()).eval()
    probe_forward(module, tmp_path / "w")  # healthy weights pass
    with torch.no_grad():
        module.blocks[1].mlp.fc.weight.fill_(3e38)
    with pytest.raises(ModelFileError, match=r"first in blocks\.1\.") as info:
        probe_forward(module, tmp_path / "w")
    assert info.value.path == tmp_path / "w"


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "", 3, None, ["a"], "a\x00b"])
def test_file_names_from_a_file_stay_inside_the_folder(tmp_path, name):
    with pytest.raises(ModelFileError, match="weight_map"):
        file_in_folder(tmp_path, name, tmp_path / "index.json", "weight_map['w']")


def test_file_names_may_use_subfolders(tmp_path):
    assert file_in_folder(tmp_path, "shards/a.safetensors", tmp_path / "i", "k") == tmp_path / "shards/a.safetensors"


def test_read_json_messages(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        read_json(path)
    path.write_text('{"a": NaN}')
    assert read_json(path)["a"] != read_json(path)["a"]  # NaN is read; the value checks refuse it
    with pytest.raises(ModelFileError, match="at most 1 MB"):
        path.write_text('{"a": "' + "x" * 2**20 + '"}')
        read_json(path, max_bytes=2**20)


@pytest.mark.parametrize("div", [0.5, 1e-300, 33.0, 1e300])
def test_adaptive_div_value_keeps_every_cluster_at_least_one_dimension(div):
    # d_model 32, two clusters: 32 // div**2 must be >= 1 (div <= 5.65), and div >= 1.
    with pytest.raises(ConfigValueError, match="adaptive_div_value"):
        check_config_dict({"vocab_size": 200, "d_model": 32, "adaptive_cutoffs": [10, 20], "adaptive_div_value": div})
    check_config_dict({"vocab_size": 200, "d_model": 32, "adaptive_cutoffs": [10, 20], "adaptive_div_value": 4.0})


def test_trace_estimate_is_an_upper_bound_of_a_real_trace():
    import numpy as np

    from model.core.validation import trace_bytes
    from model.tracer.runner import TracingModel

    class Ids:  # a tokenizer stand-in: one id per character
        bos_token_id, add_special_tokens, kind = None, False, "other"

        def encode(self, text):
            from model.core.tokenizer import Encoding

            n = len(text)
            return Encoding(tuple(range(3, 3 + n)), tuple(text), tuple((i, i + 1) for i in range(n)), (False,) * n)

    cfg = tiny_config(n_ctx=64)
    trace = TracingModel(Transformer(cfg), Ids()).trace("x" * 64)
    held = sum(v.nbytes for v in vars(trace).values() if isinstance(v, np.ndarray))
    assert held <= trace_bytes(cfg, 64) <= 4 * held


def test_a_long_context_traces_only_what_fits(tmp_path, monkeypatch, wordpiece_file):
    import model.loading
    from model.core.validation import trace_bytes
    from model.core.weights import save_model
    from model.loading import load_tracing_model

    cfg = tiny_config(n_ctx=4096, positional="sinusoidal")
    folder = save_model(Transformer(cfg), tmp_path / "long")
    (folder / "tokenizer.json").write_bytes(wordpiece_file.read_bytes())
    monkeypatch.setattr(model.loading, "available_memory", lambda: 64 * 2**30)
    assert load_tracing_model(folder, device="cpu").max_tokens == 4096
    monkeypatch.setattr(model.loading, "available_memory", lambda: 400 * 2**20)
    capped = load_tracing_model(folder, device="cpu").max_tokens
    assert 1 <= capped < 4096
    assert trace_bytes(cfg, capped) <= 100 * 2**20 < trace_bytes(cfg, capped + 1)


def test_a_rope_model_keeps_no_causal_mask_so_its_context_costs_no_memory():
    """Gemma 3 270M (n_ctx 32,768, RoPE) was refused from its own cache: the estimate counted
    an n_ctx² mask per layer (21 GB) that only models with position vectors keep."""
    rope = tiny_config(n_ctx=32_768, norm="rmsnorm", gated_mlp=True, positional="rope")
    assert estimate_load_bytes(rope)["n_ctx"] == 0
    learned = tiny_config(n_ctx=512)
    assert estimate_load_bytes(learned)["n_ctx"] >= learned.n_layers * 512 * 512
