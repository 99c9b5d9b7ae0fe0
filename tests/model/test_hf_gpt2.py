"""GPT-2-family checkpoints load into our Transformer and match transformers' reference to 1e-5 of each
tensor's scale.

Every model here is a tiny random ``GPT2LMHeadModel`` saved into tmp_path with a byte-level
BPE trained offline on a few sentences: no network, no model hub.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers  # the reference implementation (test extra)
from safetensors.torch import load_file, save_file

from model.core.errors import ModelFileError
from model.formats.discovery import find_checkpoints, hf_cache_dir
from model.formats.gpt2 import load_gpt2
from model.formats.hf import folder_name
from model.loading import load_tracing_model
from tests.model.conftest import train_byte_bpe
from tests.numerics import assert_close

# transformers computes the same functions in another order (fused qkv projection, its own
# softmax and LayerNorm kernels): float32 roundoff, relative to each tensor's largest value.
REL = 1e-5
TEXT = "the king and the queen, the man and the woman"


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """Weights far from the 0.02-std init, so patterns are peaked and a wrong mapping shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            is_norm_gain = ("ln_" in name or "LayerNorm" in name) and name.endswith("weight")
            p.copy_(1 + 0.3 * noise if is_norm_gain else 0.3 * noise)


def make_gpt2(folder: Path, tie: bool = True, n_inner: int | None = None, seed: int = 0):
    tok = train_byte_bpe()
    eot = tok.token_to_id("<|endoftext|>")
    config = transformers.GPT2Config(
        n_layer=2, n_head=4, n_embd=32, n_positions=24, vocab_size=tok.get_vocab_size(), n_inner=n_inner,
        bos_token_id=eot, eos_token_id=eot, tie_word_embeddings=tie, attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(config).eval()
    randomise(model, seed)
    model.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    return model, tok


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf") / "tiny-gpt2"
    model, _ = make_gpt2(folder)
    return folder, model


def reference(model, ids: np.ndarray):
    with torch.no_grad():
        return model(torch.tensor(ids)[None], output_attentions=True, output_hidden_states=True)


def assert_matches_reference(trace, out) -> None:
    L = trace.n_layers
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    assert_close(trace.probs, torch.softmax(out.logits[0], -1), REL, what="probs")
    assert len(out.hidden_states) == L + 1 and len(out.attentions) == L
    for i in range(L):
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], REL, what=f"resid_pre[{i}]")
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")
    # GPT-2's last hidden state is after ln_f: our final_norm.
    assert_close(trace.final_norm, out.hidden_states[L][0], REL, what="final_norm")


def test_logits_hidden_states_and_patterns_match_transformers(gpt2_folder):
    folder, hf = gpt2_folder
    model = load_tracing_model(folder)
    trace = model.trace(TEXT, logit_positions="all")
    assert trace.token_strings[0] == "<|endoftext|>" and trace.special[0]
    assert trace.pattern[0, 0, 1, 0] > 0 and (trace.pattern[:, :, 0, 1:] == 0).all()  # causal
    assert_matches_reference(trace, reference(hf, trace.token_ids))


def test_a_trace_has_the_bundled_contract(gpt2_folder):
    folder, _ = gpt2_folder
    model = load_tracing_model(folder)
    info = model.info(source=str(folder))
    assert info.causal and info.has_lm_head and info.tokenizer_kind == "byte_level"
    assert (info.n_layers, info.n_heads, info.d_model) == (2, 4, 32)
    trace = model.trace("the cat")
    assert trace.logits.shape == (1, info.vocab_size)
    assert "".join(trace.token_strings[1:]) == "the cat"  # 'Ġcat' is shown as ' cat'
    assert trace.head_out.shape == (2, 4, trace.n_tokens, 32)
    bias = model.module.blocks[1].attn.out.bias.detach().numpy()
    assert_close(trace.head_out[1].sum(0) + bias, trace.attn_out[1], what="heads + bias = attention output")


def test_untied_lm_head_and_custom_mlp_width(tmp_path):
    hf, _ = make_gpt2(tmp_path, tie=False, n_inner=48, seed=1)
    module, _ = load_gpt2(tmp_path)
    assert module.cfg.d_mlp == 48 and not module.cfg.tie_embeddings
    assert module.unembed.weight.data_ptr() != module.tok_embed.weight.data_ptr()
    trace = load_tracing_model(tmp_path).trace(TEXT, logit_positions="all")
    assert_matches_reference(trace, reference(hf, trace.token_ids))


@pytest.mark.parametrize("layout", ["no_prefix", "pytorch_bin", "sharded"])
def test_other_weight_layouts_load_the_same_model(gpt2_folder, tmp_path, layout):
    folder, hf = gpt2_folder
    target = tmp_path / layout
    target.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (target / name).write_bytes((folder / name).read_bytes())
    state = load_file(str(folder / "model.safetensors"))
    if layout == "no_prefix":  # what GPT2Model (no LM head) saves, plus an old mask buffer
        stripped = {k.removeprefix("transformer."): v for k, v in state.items()}
        stripped["h.0.attn.bias"] = torch.ones(1, 1, 24, 24)
        save_file(stripped, str(target / "model.safetensors"))
    elif layout == "pytorch_bin":
        torch.save(state, target / "pytorch_model.bin")
    else:
        names = sorted(state)
        shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
        weight_map = {}
        for shard, keys in shards.items():
            save_file({k: state[k] for k in keys}, str(target / shard))
            weight_map.update(dict.fromkeys(keys, shard))
        (target / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    trace = load_tracing_model(target).trace(TEXT, logit_positions="all")
    assert_matches_reference(trace, reference(hf, trace.token_ids))


def test_vocab_and_merges_files_tokenize_like_tokenizer_json(gpt2_folder, tmp_path):
    folder, _ = gpt2_folder
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    train_byte_bpe().model.save(str(tmp_path))  # writes vocab.json + merges.txt
    assert {"vocab.json", "merges.txt"} <= {p.name for p in tmp_path.iterdir()}
    from_files = load_tracing_model(tmp_path).trace(TEXT)
    from_json = load_tracing_model(folder).trace(TEXT)
    assert from_files.token_ids.tolist() == from_json.token_ids.tolist()
    assert from_files.token_strings == from_json.token_strings
    assert from_files.offsets == from_json.offsets


def test_weights_only_refuses_a_pickle_that_is_not_just_tensors(gpt2_folder, tmp_path):
    folder, _ = gpt2_folder
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    torch.save({"wte.weight": torch.zeros(2), "payload": _Payload()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelFileError, match="pytorch_model.bin: corrupt or unsafe"):
        load_tracing_model(tmp_path)
    assert not _Payload.unpickled


class _Payload:
    unpickled = False

    def __reduce__(self):
        return (_mark_unpickled, ())


def _mark_unpickled():
    _Payload.unpickled = True


def copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_mismatches_name_the_file_and_the_tensor(gpt2_folder, tmp_path):
    folder, _ = gpt2_folder
    state = load_file(str(folder / "model.safetensors"))

    missing = copy_folder(folder, tmp_path / "missing")
    save_file({k: v for k, v in state.items() if k != "transformer.h.1.mlp.c_fc.bias"},
              str(missing / "model.safetensors"))
    with pytest.raises(ModelFileError, match=r"model\.safetensors: missing tensor h\.1\.mlp\.c_fc\.bias"):
        load_tracing_model(missing)

    wrong = copy_folder(folder, tmp_path / "wrong")
    # A Linear-style (out, in) matrix where GPT-2's Conv1D stores (in, out).
    save_file({**state, "transformer.h.0.attn.c_attn.weight": torch.zeros(96, 32)}, str(wrong / "model.safetensors"))
    with pytest.raises(ModelFileError, match=r"tensor h\.0\.attn\.c_attn\.weight has shape \(96, 32\).*\(32, 96\)"):
        load_tracing_model(wrong)

    extra = copy_folder(folder, tmp_path / "extra")
    save_file({**state, "transformer.h.2.ln_1.weight": torch.ones(32)}, str(extra / "model.safetensors"))
    with pytest.raises(ModelFileError, match=r"unexpected tensors: h\.2\.ln_1\.weight"):
        load_tracing_model(extra)

    nan = copy_folder(folder, tmp_path / "nan")
    save_file({**state, "transformer.ln_f.bias": torch.full((32,), float("nan"))}, str(nan / "model.safetensors"))
    with pytest.raises(ModelFileError, match=r"ln_f\.bias contains NaN"):
        load_tracing_model(nan)


def test_corrupt_and_incomplete_folders_are_explained(gpt2_folder, tmp_path):
    folder, _ = gpt2_folder
    corrupt = copy_folder(folder, tmp_path / "corrupt")
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match=r"model\.safetensors: corrupt or unreadable"):
        load_tracing_model(corrupt)

    no_weights = copy_folder(folder, tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="no weights"):
        load_tracing_model(no_weights)

    no_tokenizer = copy_folder(folder, tmp_path / "no_tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(ModelFileError, match="no tokenizer"):
        load_tracing_model(no_tokenizer)

    bad_json = copy_folder(folder, tmp_path / "bad_json")
    (bad_json / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match=r"config\.json: not valid JSON"):
        load_tracing_model(bad_json)

    bad_value = copy_folder(folder, tmp_path / "bad_value")
    config = json.loads((folder / "config.json").read_text())
    (bad_value / "config.json").write_text(json.dumps({**config, "activation_function": "swish"}))
    with pytest.raises(ModelFileError, match=r"config\.json: activation_function 'swish' is not supported"):
        load_tracing_model(bad_value)


def test_long_text_keeps_bos_and_the_latest_tokens(gpt2_folder):
    folder, _ = gpt2_folder
    model = load_tracing_model(folder)
    assert model.max_tokens == 24  # the tiny model's context is below the pretrained cap
    text = " ".join([TEXT] * 10)
    trace = model.trace(text)
    assert trace.n_tokens == 24 and trace.truncated
    assert trace.token_strings[0] == "<|endoftext|>"
    assert trace.token_ids[1:].tolist() == list(model.tokenizer.encode(text).ids[-23:])


def make_cache_repo(hub: Path, repo: str, source: Path | None, sha: str = "abc123", ref: bool = True) -> Path:
    """A Hugging Face cache entry: models--org--name/{refs/main, snapshots/<sha>/…}."""
    entry = hub / ("models--" + repo.replace("/", "--"))
    snapshot = entry / "snapshots" / sha
    snapshot.mkdir(parents=True)
    if source is not None:
        copy_folder(source, snapshot)
    if ref:
        (entry / "refs").mkdir()
        (entry / "refs" / "main").write_text(sha)
    return snapshot


def test_finds_checkpoints_in_a_folder_and_the_hf_cache(gpt2_folder, tmp_path, monkeypatch):
    folder, _ = gpt2_folder
    hub = tmp_path / "home" / "hub"
    good = make_cache_repo(hub, "someone/tiny-gpt2", folder)
    make_cache_repo(hub, "someone/old", folder, sha="old", ref=False)
    incomplete = make_cache_repo(hub, "someone/config-only", None)
    (incomplete / "config.json").write_bytes((folder / "config.json").read_bytes())
    not_gpt2 = make_cache_repo(hub, "someone/llama", None)
    (not_gpt2 / "config.json").write_text(json.dumps({"model_type": "llama"}))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    assert hf_cache_dir() == hub

    found = find_checkpoints()
    assert sorted(folder_name(p) for p in found) == ["someone/old", "someone/tiny-gpt2"]
    assert good in found

    picked = tmp_path / "picked"
    nested = copy_folder(folder, picked / "a" / "b" / "tiny")
    copy_folder(folder, picked / ".hidden" / "tiny")
    assert find_checkpoints(picked, include_cache=False) == [nested]
    assert find_checkpoints(picked, include_cache=False, max_depth=1) == []
    assert find_checkpoints(tmp_path / "nowhere", include_cache=False) == []

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    assert find_checkpoints() == []
    assert load_tracing_model(good).name == "someone/tiny-gpt2 (GPT-2)"
