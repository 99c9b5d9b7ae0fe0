"""Hostile model files (issue #31): every class of lie a GGUF file or a Llama-layout folder can
tell is refused with a ModelFileError naming the file and the key — never a raw exception from
the loaders or the tokenizers library, never a model that traces NaN, never a read outside the
folder or from a FIFO."""

from __future__ import annotations

import json
import os
import threading

import gguf
import pytest

from model.core.errors import ModelFileError
from model.formats.gguf import sweep_stale_temporaries
from model.loading import load_tracing_model
from tests.model.test_gguf import random_llama, train_tokenizer, write_gguf
from tests.model.test_hf_llama import make as make_llama

V = gguf.GGUFValueType


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_EXPLORER_CACHE", str(tmp_path / "cache"))


def _tokens(edit):
    def apply(kv):
        tokens = list(kv["tokenizer.ggml.tokens"].value)
        types = list(kv["tokenizer.ggml.token_type"].value)
        merges = list(kv["tokenizer.ggml.merges"].value)
        tokens, types, merges = edit(tokens, types, merges)
        kv["tokenizer.ggml.tokens"] = gguf.GGUFValue(tokens, V.ARRAY, V.STRING)
        kv["tokenizer.ggml.token_type"] = gguf.GGUFValue(types, V.ARRAY, V.INT32)
        kv["tokenizer.ggml.merges"] = gguf.GGUFValue(merges, V.ARRAY, V.STRING)
    return apply


GGUF_CASES = {
    "head_count 0": (dict(meta={"{arch}.attention.head_count": (0, V.UINT32)}), "head_count"),
    "key_length 0": (dict(meta={"{arch}.attention.key_length": (0, V.UINT32)}), "key_length"),
    "block_count float": (dict(meta={"{arch}.block_count": (2.0, V.FLOAT32)}), "block_count"),
    "freq_base 0": (dict(meta={"{arch}.rope.freq_base": (0.0, V.FLOAT32)}), "rope_theta"),
    "freq_base negative": (dict(meta={"{arch}.rope.freq_base": (-5.0, V.FLOAT32)}), "rope_theta"),
    "freq_base nan": (dict(meta={"{arch}.rope.freq_base": (float("nan"), V.FLOAT32)}), "rope_theta"),
    "eps negative": (dict(meta={"{arch}.attention.layer_norm_rms_epsilon": (-1.0, V.FLOAT32)}), "layer_norm_eps"),
    "eps nan": (dict(meta={"{arch}.attention.layer_norm_rms_epsilon": (float("nan"), V.FLOAT32)}), "layer_norm_eps"),
    "linear factor 0": (dict(meta={"{arch}.rope.scaling.type": ("linear", V.STRING),
                                   "{arch}.rope.scaling.factor": (0.0, V.FLOAT32)}), "factor"),
    "bos beyond vocabulary": (dict(meta={"tokenizer.ggml.bos_token_id": (10**6, V.UINT32)}, add_bos=True),
                              "bos_token_id"),
    "duplicate tokens": (dict(edit_tokens=_tokens(lambda t, y, m: ([t[0], *t[:-1]], y, m))), "twice"),
    "token types short": (dict(edit_tokens=_tokens(lambda t, y, m: (t, y[:-3], m))), "token_type"),
    "merge without a space": (dict(edit_tokens=_tokens(lambda t, y, m: (t, y, [m[0].replace(" ", ""), *m[1:]]))),
                              "merges"),
    "merge naming an unknown token": (dict(edit_tokens=_tokens(lambda t, y, m: (t, y, ["zzq zzr", *m[1:]]))),
                                      "not in the vocabulary"),
}


@pytest.mark.parametrize("case", sorted(GGUF_CASES))
def test_a_lying_gguf_file_is_refused_naming_it(tmp_path, tokenizer, case):
    kwargs, words = GGUF_CASES[case]
    path = write_gguf(tmp_path / "lie.gguf", random_llama(tokenizer, tie=True), tokenizer, **kwargs)
    with pytest.raises(ModelFileError, match=words) as info:
        load_tracing_model(str(path))
    assert info.value.path == path
    assert not any((tmp_path / "cache").rglob("*.safetensors"))  # nothing cached


FOLDER_CASES = {
    "rope_theta 0": ({"rope_theta": 0}, "rope_theta"),
    "rope_theta negative": ({"rope_theta": -1.0}, "rope_theta"),
    "rope_theta null": ({"rope_theta": None}, "rope_theta"),
    "rope_theta string": ({"rope_theta": "big"}, "rope_theta"),
    "rope_theta true": ({"rope_theta": True}, "rope_theta"),
    "rope_theta 1e400": ({"rope_theta": float("inf")}, "rope_theta"),
    "rope_parameters theta 0": ({"rope_parameters": {"rope_type": "default", "rope_theta": 0}}, "rope_theta"),
    "head_dim string": ({"head_dim": "16"}, "head_dim"),
    "rms_norm_eps negative": ({"rms_norm_eps": -1e-6}, "eps"),
    "rms_norm_eps null": ({"rms_norm_eps": None}, "rms_norm_eps"),
    "rms_norm_eps list": ({"rms_norm_eps": [1e-6]}, "rms_norm_eps"),
    "yarn factor 0": ({"rope_scaling": {"rope_type": "yarn", "factor": 0, "original_max_position_embeddings": 16}},
                      "factor"),
    "linear factor negative": ({"rope_scaling": {"rope_type": "linear", "factor": -2}}, "factor"),
    "linear factor string": ({"rope_scaling": {"rope_type": "linear", "factor": "2"}}, "factor"),
    "llama3 without original": ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                  "high_freq_factor": 4.0}}, "original_max_position_embeddings"),
}


@pytest.fixture(scope="module")
def llama_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llama") / "ok"
    make_llama(folder, "llama-linear-tied")
    return folder


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_an_absurd_llama_config_is_refused_naming_the_key(tmp_path, llama_template, case):
    import shutil

    change, words = FOLDER_CASES[case]
    folder = tmp_path / "bad"
    shutil.copytree(llama_template, folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("rope_parameters", None) if "rope_parameters" not in change else None
    config.pop("rope_scaling", None)
    config.update(change)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=words):
        load_tracing_model(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("target", ["fifo", "/dev/urandom", "/etc/hostname"])
def test_a_shard_index_naming_a_device_a_fifo_or_a_file_elsewhere_is_refused_without_reading(
        tmp_path, llama_template, target):
    import shutil

    folder = tmp_path / "sharded"
    shutil.copytree(llama_template, folder)
    (folder / "model.safetensors").rename(tmp_path / "whole.safetensors")
    link = folder / "shard-00001.safetensors"
    if target == "fifo":
        os.mkfifo(link)
    else:
        os.symlink(target, link)
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"model.embed_tokens.weight": "shard-00001.safetensors"}}))
    errors: list = []
    worker = threading.Thread(target=lambda: errors.append(pytest.raises(ModelFileError, load_tracing_model, folder)),
                              daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "the load blocked"
    assert "refused without opening it" in str(errors[0].value)


def test_stale_cache_temporaries_of_dead_processes_are_swept(tmp_path):
    root = tmp_path / "gguf"
    root.mkdir()
    dead = root / ".abc-v1.999999.tmp"
    live = root / f".abc-v1.{os.getpid()}.tmp"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x" * 100)
    removed = sweep_stale_temporaries(root)
    assert removed == [dead] and not dead.exists() and live.exists()


# ---------------------------------------------------------------- the rest of issue #31's list
MORE_FOLDER_CASES = {
    "rope_theta nan": ({"rope_theta": float("nan")}, "rope_theta"),
    "rope_theta twice, different": ({"rope_theta": 10000.0, "rope_parameters": {"rope_type": "default",
                                                                                "rope_theta": 500000.0}},
                                    "rope_theta is 10000 at the top level but 500000 in rope_parameters"),
    "max_window_layers string": ({"model_type": "qwen2", "use_sliding_window": True, "sliding_window": 8,
                                  "max_window_layers": "x"}, "max_window_layers"),
    "bos_token_id beyond the vocabulary": ({"bos_token_id": 10**6}, "bos_token_id"),
}


def _folder(tmp_path, template, change: dict, tokenizer_config: dict | None = None):
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(template, folder)
    config = json.loads((folder / "config.json").read_text())
    if "rope_parameters" not in change:
        config.pop("rope_parameters", None)
    config.pop("rope_scaling", None)
    config.update(change)
    (folder / "config.json").write_text(json.dumps(config))
    if tokenizer_config is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return folder


@pytest.mark.parametrize("case", sorted(MORE_FOLDER_CASES))
def test_more_absurd_llama_configs_are_refused_naming_the_key(tmp_path, llama_template, case):
    change, words = MORE_FOLDER_CASES[case]
    # a BOS token tokenizer_config.json asks for that the tokenizer does not know: config.json's id is used
    folder = _folder(tmp_path, llama_template, change, {"add_bos_token": True, "bos_token": "<nope>"})
    with pytest.raises(ModelFileError, match=words) as info:
        load_tracing_model(folder)
    assert info.value.path.name == "config.json"


def test_rope_theta_given_twice_with_the_same_value_loads(tmp_path, llama_template):
    theta = json.loads((llama_template / "config.json").read_text()).get("rope_theta", 10000.0)
    folder = _folder(tmp_path, llama_template, {"rope_theta": theta,
                                                "rope_parameters": {"rope_type": "default", "rope_theta": theta}})
    assert load_tracing_model(folder).info().n_layers > 0


def _add_lm_head(folder, transform) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    weights["lm_head.weight"] = transform(weights["model.embed_tokens.weight"]).contiguous()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def test_tied_embeddings_beside_a_different_lm_head_are_refused(tmp_path, llama_template):
    """tie_word_embeddings true and an lm_head.weight that is not the embedding: the head was
    dropped without a word, so the model predicted with a matrix its file did not hold."""
    folder = _folder(tmp_path, llama_template, {"tie_word_embeddings": True})
    _add_lm_head(folder, lambda e: e * 0.5)
    with pytest.raises(ModelFileError, match="tie_word_embeddings.*lm_head.weight is a different matrix"):
        load_tracing_model(folder)


def test_tied_embeddings_beside_a_copy_of_the_embedding_load(tmp_path, llama_template):
    folder = _folder(tmp_path, llama_template, {"tie_word_embeddings": True})
    _add_lm_head(folder, lambda e: e.clone())
    load_tracing_model(folder).trace("hello")


def test_a_gguf_with_all_zero_rope_freqs_is_refused(tmp_path, tokenizer):
    import numpy as np

    model = random_llama(tokenizer, tie=True)
    half = model.config.hidden_size // model.config.num_attention_heads // 2
    path = write_gguf(tmp_path / "zero.gguf", model, tokenizer, rope_freqs=np.zeros(half))
    with pytest.raises(ModelFileError) as info:
        load_tracing_model(str(path))
    assert info.value.path == path
    assert not any((tmp_path / "cache").rglob("*.safetensors"))


def test_a_tied_gpt2_beside_a_different_lm_head_is_refused(tmp_path):
    """GPT-2 ties by default; an lm_head.weight that is not wte was dropped without a word."""
    from safetensors.torch import load_file, save_file

    from tests.model.test_hf_gpt2 import make_gpt2

    folder = tmp_path / "gpt2"
    make_gpt2(folder, tie=True)
    weights = load_file(folder / "model.safetensors")
    wte = next(v for k, v in weights.items() if k.endswith("wte.weight"))
    weights["lm_head.weight"] = (wte + 1.0).contiguous()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="lm_head.weight is a different matrix"):
        load_tracing_model(folder)
