from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from model.core.errors import ModelFileError
from model.core.transformer import Transformer
from model.core.weights import load_model, save_model
from model.tracer.runner import TracingModel
from tests.model.conftest import tiny_config
from tests.numerics import assert_close


@pytest.fixture
def saved(tmp_path, tiny_model, wordpiece_file):
    folder = save_model(tiny_model, tmp_path / "tiny")
    (folder / "tokenizer.json").write_bytes(wordpiece_file.read_bytes())
    return folder


def test_round_trip_gives_identical_logits(saved, tiny_model):
    loaded = load_model(saved)
    idx = torch.randint(0, 200, (1, 9))
    with torch.no_grad():
        assert_close(loaded(idx), tiny_model(idx), what="logits")  # the same weights in other buffers
    assert loaded.cfg == tiny_model.cfg


def test_half_precision_storage_loads_as_float32(tmp_path, tiny_model):
    folder = save_model(tiny_model, tmp_path / "half", half_precision=True)
    loaded = load_model(folder)
    assert loaded.tok_embed.weight.dtype == torch.float32
    # each weight rounded to float16 once: at most half a float16 step (2^-11) of the scale
    assert_close(loaded.tok_embed.weight, tiny_model.tok_embed.weight, 2**-11, what="embedding")


def test_tied_embeddings_are_saved_once_and_stay_tied(tmp_path):
    model = Transformer(tiny_config(tie_embeddings=True))
    loaded = load_model(save_model(model, tmp_path / "tied"))
    assert loaded.unembed.weight is loaded.tok_embed.weight
    torch.testing.assert_close(loaded.tok_embed.weight, model.tok_embed.weight, atol=0, rtol=0)  # stored, read back


def test_tracing_model_loads_a_folder(saved):
    trace = TracingModel.from_folder(saved).trace("the king")
    assert trace.model_name == "tiny" and trace.n_tokens == 2


def test_missing_folder_and_files_are_named(tmp_path, saved):
    with pytest.raises(ModelFileError, match="model folder not found"):
        load_model(tmp_path / "nowhere")
    (saved / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="weights file not found") as info:
        load_model(saved)
    assert info.value.path.name == "model.safetensors"


def test_missing_tokenizer_is_named(saved):
    (saved / "tokenizer.json").unlink()
    with pytest.raises(ModelFileError, match="tokenizer file not found"):
        TracingModel.from_folder(saved)


@pytest.mark.parametrize("payload", [b"", b"not safetensors at all", b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json"])
def test_corrupt_weights_file_says_which_file_and_what(saved, payload):
    (saved / "model.safetensors").write_bytes(payload)
    with pytest.raises(ModelFileError, match="corrupt or unreadable") as info:
        load_model(saved)
    assert "model.safetensors" in str(info.value)


def test_truncated_weights_file_is_reported(saved):
    path = saved / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="model.safetensors"):
        load_model(saved)


def test_weights_that_do_not_match_the_config_name_the_tensor(saved):
    config = json.loads((saved / "config.json").read_text())
    config["d_mlp"] = 64
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"tensor blocks\.0\.mlp\.fc\.bias has shape \(128,\) but config.json implies \(64,\)"):
        load_model(saved)


def test_missing_tensors_are_listed(saved, tiny_model):
    state = {k: v for k, v in tiny_model.state_dict().items() if not k.startswith("blocks.1.")}
    save_file(state, str(saved / "model.safetensors"))
    with pytest.raises(ModelFileError, match="missing tensors: blocks.1"):
        load_model(saved)


def test_non_finite_weights_are_refused(saved, tiny_model):
    state = dict(tiny_model.state_dict())
    state["ln_f.weight"] = torch.full_like(state["ln_f.weight"], float("nan"))
    save_file(state, str(saved / "model.safetensors"))
    with pytest.raises(ModelFileError, match="ln_f.weight contains NaN"):
        load_model(saved)


@pytest.mark.parametrize(
    "text, problem",
    [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object"),
     ('{"vocab_size": 200, "colour": "blue"}', "unknown config keys: colour"),
     ('{"vocab_size": -1}', "vocab_size must be positive")],
)
def test_bad_config_is_explained(saved, text, problem):
    (saved / "config.json").write_text(text)
    with pytest.raises(ModelFileError, match=problem) as info:
        load_model(saved)
    assert info.value.path.name == "config.json"
