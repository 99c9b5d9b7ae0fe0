"""Llama-layout GGUF files load into our Transformer and match transformers' own GGUF loader.

Every file here is written by the ``gguf`` package's writer from a tiny random transformers
Llama model (q/k rows permuted and some matrices quantized as llama.cpp's converter does),
with a byte-level BPE trained offline: no network, no model hub.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
import transformers  # the reference (test extra; its GGUF support also needs gguf + accelerate)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from model.core.errors import ModelFileError
from model.core.tokenizer import append_token
from model.formats import gguf as gguf_format
from model.formats.gguf import scan_header
from model.formats.ollama import find_ollama_blob, find_ollama_models
from model.loading import available_models, load_tracing_model
from model.tracer.runner import TracingModel
from tests.model.conftest import SENTENCES
from tests.numerics import assert_close, assert_differ

# transformers computes the same functions in another order (its own rotary, repeated kv heads,
# RMSNorm and softmax kernels): float32 roundoff, relative to each tensor's largest value.
REL = 1e-5
Q = gguf.GGMLQuantizationType
# Accents, emoji, Chinese, digits and a control token written out in the text.
TOKENIZER_CASES = [
    "The capital of France is",
    "Crème brûlée at the café, naïve façade — ¿qué tal? Ærøskøbing",
    "Emoji 🤖🎉 and 👩‍👩‍👧 family",
    "中文分词：我们在北京学习人工智能。",
    "Digits 1234567 and 3.14159, year 2024, 10,000 items",
    "a<|endoftext|>b   spaces\tand\nnew lines",
]
TRAINING_TEXT = SENTENCES + TOKENIZER_CASES + ["the cat sat on the mat 12 34 567 8901"]
HF_TO_GGUF = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
}


def train_tokenizer(single_digits: bool = False) -> Tokenizer:
    """``single_digits``: trained as SmolLM's vocabulary was, one digit per piece."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if single_digits:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    return tok


def permute(w: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's converter (convert_hf_to_gguf.py LlamaModel.permute)."""
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def random_llama(tok: Tokenizer, tie: bool, seed: int = 0, **overrides):
    config = transformers.LlamaConfig(**{**dict(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rope_theta=100000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=tie, bos_token_id=1, eos_token_id=2,
    ), **overrides})
    config._attn_implementation = "eager"  # returns the patterns
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.3 * noise if "norm" in name else 0.3 * noise)
    return model


def write_gguf(
    path: Path, model, tok: Tokenizer, arch: str = "llama", pre: str = "smollm", quantize: bool = True,
    drop: tuple[str, ...] = (), add_bos: bool = False, rope_freqs: np.ndarray | None = None,
    meta: dict | None = None, edit_tokens=None, kinds: list | None = None,
) -> Path:
    """``model`` as llama.cpp's converter would write it: Q8_0 embedding, Q4_1 / Q8_0 / F16 matrices
    (or the matrices in turn of ``kinds``; a K-quant's blocks are random, see :func:`k_quant_blocks`)."""
    cfg = model.config
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny-llama")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_vocab_size(cfg.vocab_size)
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t.startswith("<|") else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(add_bos)
    kinds = kinds or [Q.Q4_1, Q.Q8_0, Q.F16, Q.F32]
    if rope_freqs is not None:
        writer.add_tensor("rope_freqs.weight", rope_freqs.astype(np.float32))
    for i, (name, tensor) in enumerate(model.state_dict().items()):
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        array = tensor.numpy().astype(np.float32)
        if name.startswith("model.layers."):
            _, _, layer, *rest = name.split(".")
            module, suffix = ".".join(rest[:-1]), rest[-1]
            if arch == "llama" and module.endswith("q_proj"):  # llama.cpp permutes only "llama" files
                array = permute(array, cfg.num_attention_heads)
            elif arch == "llama" and module.endswith("k_proj"):
                array = permute(array, cfg.num_key_value_heads)
            gname = f"blk.{layer}.{HF_TO_GGUF[module]}.{suffix}"
        else:
            gname = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                     "lm_head.weight": "output.weight"}[name]
        if gname in drop:
            continue
        kind = (Q.F32 if array.ndim == 1 or not quantize
                else (Q.Q8_0 if gname == "token_embd.weight" else kinds[i % len(kinds)]))
        if kind in K_QUANTS:
            writer.add_tensor(gname, k_quant_blocks(array.shape, kind, seed=i), raw_dtype=kind)
        elif kind == Q.F32:
            writer.add_tensor(gname, array)
        elif kind == Q.F16:
            writer.add_tensor(gname, array.astype(np.float16))
        else:
            writer.add_tensor(gname, gguf.quants.quantize(array, kind), raw_dtype=kind)
    if edit_tokens is not None:  # hostile files: a lying token list, types, merges
        edit_tokens(writer.kv_data[0])
    for key, value in (meta or {}).items():  # hostile files: a metadata value replaced, or removed (None)
        key = key.replace("{arch}", arch)
        if value is None:
            writer.kv_data[0].pop(key, None)
        else:
            writer.kv_data[0][key] = gguf.GGUFValue(*value) if isinstance(value, tuple) else value
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


#: The K-quants real files use (Gemma 3 270M's Q4_K_M file has Q4_K and Q6_K matrices; Q5_K is
#: llama.cpp's Q5_K_M). ``gguf`` can read them but not write them, so a test file holds random blocks.
K_QUANTS = (Q.Q4_K, Q.Q5_K, Q.Q6_K)


def k_quant_blocks(shape: tuple[int, int], kind, seed: int) -> np.ndarray:
    """Random but valid ``kind`` blocks for a (rows, cols) matrix: random quants and sub-block
    scales, with the block's float16 scales set so that weights stay within about ±0.5."""
    block, size = gguf.GGML_QUANT_SIZES[kind]
    rows, cols = shape
    assert cols % block == 0
    raw = np.random.default_rng(seed).integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    if kind == Q.Q6_K:  # ql[128] qh[64] scales[16] (int8) d
        raw[..., 208:210] = np.frombuffer(np.float16(1.2e-4).tobytes(), dtype=np.uint8)
    else:  # d, dmin, scales[12], (qh[32],) qs[128]
        d = 5e-4 if kind == Q.Q4_K else 2.5e-4
        raw[..., 0:2] = np.frombuffer(np.float16(d).tobytes(), dtype=np.uint8)
        raw[..., 2:4] = np.frombuffer(np.float16(d / 2).tobytes(), dtype=np.uint8)
    return raw.reshape(rows, -1)


@pytest.mark.parametrize("kind", [Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.Q8_0], ids=lambda k: k.name)
def test_k_quants_are_dequantized_as_gguf_does_and_run_as_transformers_does(kind, tmp_path, tokenizer):
    """Issue #27: the quantisations real files use. Every matrix of the file is ``kind``; each
    tensor we read equals ``gguf``'s own dequantisation (q and k rows un-permuted as llama.cpp
    permuted them), and the model's patterns and logits equal transformers' GGUF loader's."""
    hf_model = random_llama(tokenizer, tie=False, hidden_size=256, intermediate_size=512)
    path = write_gguf(tmp_path / "k.gguf", hf_model, tokenizer, kinds=[kind])
    reader = gguf.GGUFReader(str(path))
    matrices = {t.name: t for t in reader.tensors if len(t.shape) == 2 and t.name != "token_embd.weight"}
    assert matrices and {t.tensor_type for t in matrices.values()} == {kind}
    model = load_tracing_model(str(path))
    ours = gguf_format.read_tensors(reader, path, model.cfg, "llama")
    for name, tensor in matrices.items():
        expected = np.asarray(gguf.quants.dequantize(tensor.data, kind), dtype=np.float32)
        if not name.startswith("blk."):
            continue  # output.weight: compared through the logits below
        _, layer, kind_name, _ = name.split(".")
        hf_name = next(f"layers.{layer}.{hf}.weight" for hf, g in HF_TO_GGUF.items() if g == kind_name)
        got = ours[hf_name].numpy()
        if kind_name in ("attn_q", "attn_k"):
            got = permute(got, model.cfg.n_heads if kind_name == "attn_q" else model.cfg.kv_heads)
        assert np.array_equal(got, expected), name
        assert 0.01 < float(np.abs(expected).max()) < 2.0  # the test's blocks are weights of a sane size
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path, gguf_file=path.name, attn_implementation="eager").eval()
    trace = model.trace(" ".join(SENTENCES[:2]), logit_positions="all")
    out = run_reference(reference, trace.token_ids)
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    for i in range(trace.n_layers):
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")
    assert kind.name in model.info().weights_note


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(gguf_format.CACHE_ENV, str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer()


@pytest.fixture(scope="module", params=[True, False], ids=["tied", "untied"])
def tiny_gguf(request, tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("gguf")
    path = write_gguf(folder / "tiny.gguf", random_llama(tokenizer, tie=request.param), tokenizer)
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=path.name, attn_implementation="eager"
    ).eval()
    return path, reference


def run_reference(model, ids: np.ndarray):
    with torch.no_grad():
        return model(torch.tensor(ids)[None], output_attentions=True, output_hidden_states=True)


def test_logits_hidden_states_and_every_pattern_match_transformers(tiny_gguf):
    path, hf = tiny_gguf
    model = load_tracing_model(str(path))
    trace = model.trace(" ".join(SENTENCES[:2]), logit_positions="all")
    out = run_reference(hf, trace.token_ids)
    L = trace.n_layers
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    for i in range(L):
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], REL, what=f"resid_pre[{i}]")
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")
    assert_close(trace.final_norm, out.hidden_states[L][0], REL, what="final_norm")
    assert trace.n_heads == 4 and model.info().n_kv_heads == 2
    note = model.info().weights_note
    assert "Q4_1" in note and "Q8_0" in note and "dequantized" in note


def test_tied_file_shares_its_embedding_with_the_unembedding(tiny_gguf):
    path, hf = tiny_gguf
    module = load_tracing_model(str(path)).module
    assert module.cfg.tie_embeddings == hf.config.tie_word_embeddings
    if module.cfg.tie_embeddings:
        assert module.unembed.weight is module.tok_embed.weight


def test_rope_trace_holds_q_and_k_before_and_after_rotation(tiny_gguf):
    path, _ = tiny_gguf
    trace = load_tracing_model(str(path)).trace("the king and the queen")
    assert trace.embed_pos.shape == trace.embed_token.shape and not trace.embed_pos.any()
    assert_close(trace.q[:, :, 0], trace.q_unrotated[:, :, 0], what="position 0")  # position 0: angle 0
    assert_differ(trace.q[:, :, 3], trace.q_unrotated[:, :, 3], what="position 3")
    # A rotation keeps every pair's length.
    half = trace.q.shape[-1] // 2
    norms = lambda x: np.hypot(x[..., :half], x[..., half:])  # noqa: E731
    assert_close(norms(trace.k), norms(trace.k_unrotated), what="pair lengths")
    # Query heads 0 and 1 share kv head 0.
    np.testing.assert_array_equal(trace.k[:, 0], trace.k[:, 1])  # one kv head's values, copied
    assert trace["blocks.1.attn.q_unrotated"].shape == trace.q[1].shape


@pytest.mark.parametrize("pre", ["smollm", "llama-bpe", "qwen2", "default"])
def test_token_ids_equal_transformers_gguf_tokenizer(tmp_path, tokenizer, pre):
    """For "smollm" we split digits first, as llama.cpp does and SmolLM's own tokenizer.json
    does; transformers does not, but on a vocabulary trained that way (no multi-digit
    pieces) the ids agree."""
    if pre == "smollm":
        tokenizer = train_tokenizer(single_digits=True)
    path = write_gguf(tmp_path / "tok.gguf", random_llama(tokenizer, tie=True), tokenizer, pre=pre, quantize=False)
    ours = load_tracing_model(str(path)).tokenizer
    reference = transformers.AutoTokenizer.from_pretrained(tmp_path, gguf_file=path.name)
    for text in TOKENIZER_CASES:
        assert list(ours.encode(text).ids) == reference(text)["input_ids"], text


def test_add_bos_token_puts_bos_first(tmp_path, tokenizer):
    path = write_gguf(tmp_path / "bos.gguf", random_llama(tokenizer, tie=True), tokenizer, add_bos=True)
    model = load_tracing_model(str(path))
    assert model.cfg.bos_token_id == 1
    assert model.trace("").token_ids.tolist() == [1]


def test_second_load_reads_the_cache_and_equals_the_first(tmp_path, tokenizer, monkeypatch):
    path = write_gguf(tmp_path / "c.gguf", random_llama(tokenizer, tie=False), tokenizer)
    first = load_tracing_model(str(path)).trace("the cat and the cats", logit_positions="all")
    entries = list((tmp_path / "cache" / "gguf").iterdir())
    assert len(entries) == 1 and entries[0].name.startswith(gguf_format.file_sha256(path))

    def no_reader(*_):
        raise AssertionError("the cached load must not parse the GGUF file")

    monkeypatch.setattr(gguf_format, "open_reader", no_reader)
    second_model = load_tracing_model(str(path))
    second = second_model.trace("the cat and the cats", logit_positions="all")
    assert_close(second.logits, first.logits, what="logits")  # the same weights in other buffers
    assert_close(second.pattern, first.pattern, what="pattern")
    assert second_model.info().weights_note == load_tracing_model(str(path)).info().weights_note != ""


def test_damaged_cache_entry_is_rebuilt(tmp_path, tokenizer):
    path = write_gguf(tmp_path / "d.gguf", random_llama(tokenizer, tie=True), tokenizer)
    expected = load_tracing_model(str(path)).trace("the cat").logits
    (entry,) = (tmp_path / "cache" / "gguf").iterdir()
    (entry / "model.safetensors").write_bytes(b"garbage")
    assert_close(load_tracing_model(str(path)).trace("the cat").logits, expected, what="logits")


def test_truncated_file_is_a_model_file_error_naming_it(tmp_path, tokenizer):
    path = write_gguf(tmp_path / "cut.gguf", random_llama(tokenizer, tie=True), tokenizer)
    data = path.read_bytes()
    for size in (10, len(data) // 3, len(data) - 100):
        path.write_bytes(data[:size])
        with pytest.raises(ModelFileError) as info:
            load_tracing_model(str(path))
        assert info.value.path == path


def test_wrong_architecture_is_refused_naming_the_file(tmp_path, tokenizer):
    path = write_gguf(tmp_path / "gpt.gguf", random_llama(tokenizer, tie=True), tokenizer, arch="gpt2")
    with pytest.raises(ModelFileError, match="architecture 'gpt2' is not supported") as info:
        load_tracing_model(str(path))
    assert info.value.path == path


def test_missing_tensor_is_named(tmp_path, tokenizer):
    path = write_gguf(tmp_path / "m.gguf", random_llama(tokenizer, tie=True), tokenizer, drop=("blk.1.ffn_up.weight",))
    with pytest.raises(ModelFileError, match="missing tensor layers.1.mlp.up_proj.weight") as info:
        load_tracing_model(str(path))
    assert info.value.path == path


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"PK\x03\x04 not gguf at all")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        load_tracing_model(str(path))


def test_header_scan_counts_parameters_without_dequantizing(tmp_path, tokenizer):
    model = random_llama(tokenizer, tie=False)
    path = write_gguf(tmp_path / "h.gguf", model, tokenizer)
    summary = scan_header(path)
    assert summary.architecture == "llama" and summary.name == "tiny-llama"
    assert summary.n_params == sum(p.numel() for p in model.parameters())
    assert summary.size_bytes == path.stat().st_size and summary.context_length == 64


def test_ollama_store_is_listed_by_name_and_loads(tmp_path, tokenizer, monkeypatch):
    store = tmp_path / "ollama"
    blob = store / "blobs" / ("sha256-" + "ab" * 32)
    blob.parent.mkdir(parents=True)
    write_gguf(blob, random_llama(tokenizer, tie=True), tokenizer)
    manifest = store / "manifests" / "registry.ollama.ai" / "library" / "tinyllama" / "q4"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.license", "digest": "sha256:" + "cd" * 32},
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "ab" * 32},
    ]}))
    monkeypatch.setenv("OLLAMA_MODELS", str(store))
    (model,) = find_ollama_models()
    assert model.name == "tinyllama:q4" and model.blob == blob
    assert find_ollama_blob("tinyllama:q4") == blob and find_ollama_blob("tinyllama") is None
    choice = next(c for c in available_models(include_cache=False) if c.kind == "gguf" and "tinyllama" in c.name)
    assert choice.source == str(blob) and choice.size_bytes == blob.stat().st_size and choice.n_params > 0
    loaded = load_tracing_model("tinyllama:q4")
    assert loaded.name == "tinyllama:q4" and isinstance(loaded, TracingModel)


def test_cache_write_is_atomic_and_survives_a_read_only_cache(tmp_path, tokenizer, monkeypatch):
    path = write_gguf(tmp_path / "r.gguf", random_llama(tokenizer, tie=True), tokenizer)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv(gguf_format.CACHE_ENV, str(blocked))
    start = time.perf_counter()
    assert load_tracing_model(str(path)).trace("the cat").n_tokens == 2
    assert time.perf_counter() - start < 30
    assert not [p for p in tmp_path.rglob("*.tmp")]
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def llama3_rope_factors(dim: int, base: float, factor: float, low: float, high: float, old_ctx: int) -> np.ndarray:
    """What llama.cpp's converter writes as rope_freqs for a llama3 rope schedule."""
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    out = []
    for freq in freqs:
        wavelen = 2 * np.pi / freq
        if wavelen < old_ctx / high:
            out.append(1.0)
        elif wavelen > old_ctx / low:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def test_llama3_rope_freqs_tensor_gives_the_llama3_schedule(tmp_path, tokenizer):
    """Llama 3.1+ files (Ollama's llama3.2) carry the rope schedule as a rope_freqs tensor;
    loaded from F32 tensors the model equals the transformers model it was written from."""
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 16}
    hf = random_llama(tokenizer, tie=True, rope_scaling=scaling)
    factors = llama3_rope_factors(16, 100000.0, 8.0, 1.0, 4.0, 16)
    path = write_gguf(tmp_path / "l3.gguf", hf, tokenizer, quantize=False, rope_freqs=factors)
    trace = load_tracing_model(str(path)).trace(" ".join(SENTENCES[:2]), logit_positions="all")
    out = run_reference(hf, trace.token_ids)
    assert_close(trace.logits, out.logits[0], REL, what="logits")
    for i in range(trace.n_layers):
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")


@pytest.mark.parametrize("arch", ["qwen2", "qwen3"])
def test_qwen_files_match_transformers(tmp_path, tokenizer, arch):
    """qwen2 (q/k/v biases) and qwen3 (q/k norm, explicit head width) files: llama.cpp
    leaves their q/k rows in Hugging Face's order. Checked against the model the file was
    written from and, for qwen2, transformers' own GGUF loading too (transformers 5.x reads
    a qwen3 file's head width as its config default, 128, and cannot load this one)."""
    common = dict(vocab_size=tokenizer.get_vocab_size(), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rope_theta=1e6,
                  rms_norm_eps=1e-6, tie_word_embeddings=True)
    config = transformers.Qwen2Config(**common) if arch == "qwen2" else transformers.Qwen3Config(head_dim=32, **common)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(config).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            p.copy_((1 if "norm" in name else 0) + 0.3 * torch.randn(p.shape, generator=gen))
    path = write_gguf(tmp_path / f"{arch}.gguf", hf, tokenizer, arch=arch, pre="qwen2", quantize=False)
    trace = load_tracing_model(str(path)).trace(" ".join(SENTENCES[:2]), logit_positions="all")
    references = [hf]
    if arch == "qwen2":
        references.append(transformers.AutoModelForCausalLM.from_pretrained(
            tmp_path, gguf_file=path.name, attn_implementation="eager"
        ).eval())
    for reference in references:
        out = run_reference(reference, trace.token_ids)
        assert_close(trace.logits, out.logits[0], REL, what="logits")
        for i in range(trace.n_layers):
            assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")


def write_sentencepiece_gguf(path: Path, model) -> Path:
    """A GGUF whose tokenizer is llama.cpp's "llama" kind (SentencePiece BPE with byte
    fallback, as Llama 2 and TinyLlama ship): pieces with scores, no merges, <0xXX> bytes."""
    cfg = model.config
    pieces = ["\u2581the", "\u2581king", "\u2581and", "\u2581queen", "\u2581man", "\u2581wo", "man", "\u2581cat",
              "\u2581caf", "\u00e9", "s", "\u2581", "t", "h", "e", "k", "i", "n", "g", "a", "d", "q", "u", "m", "w",
              "o", "c", "f", "\u2581t", "\u2581th", "\u2581k", "\u2581ki", "\u2581kin", "\u2581a", "\u2581an",
              "\u2581q", "\u2581qu", "\u2581que", "\u2581quee", "\u2581m", "\u2581ma", "\u2581w", "\u2581c",
              "\u2581ca", "\u4e2d", "1", "2", "\u25811"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    tokens += [f"<extra{i}>" for i in range(cfg.vocab_size - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces) + [5] * (cfg.vocab_size - 3 - 256 - len(pieces))
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))] + [-1e4] * (cfg.vocab_size - 259 - len(pieces))
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_scores(scores)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        array = tensor.numpy().astype(np.float32)
        if name.startswith("model.layers."):
            _, _, layer, *rest = name.split(".")
            module = ".".join(rest[:-1])
            if module.endswith("q_proj"):
                array = permute(array, cfg.num_attention_heads)
            elif module.endswith("k_proj"):
                array = permute(array, cfg.num_key_value_heads)
            name = f"blk.{layer}.{HF_TO_GGUF[module]}.{rest[-1]}"
        else:
            name = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}[name]
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_sentencepiece_tokenizer_equals_transformers_and_adds_bos(tmp_path):
    hf = random_llama(train_tokenizer(), tie=True, vocab_size=400)
    path = write_sentencepiece_gguf(tmp_path / "spm.gguf", hf)
    model = load_tracing_model(str(path))
    reference = transformers.AutoTokenizer.from_pretrained(tmp_path, gguf_file=path.name)
    for text in ["the king and the queen", "the woman, the man", "caf\u00e9s \u4e2d 12 \U0001f916", " the  cat"]:
        encoding = model.tokenizer.encode(text)
        assert list(encoding.ids) == reference(text)["input_ids"], text
    encoding = model.tokenizer.encode("the queen")
    assert encoding.ids[0] == 1 and model.cfg.bos_token_id == 1  # llama.cpp adds BOS to these by default
    assert "\u2581" not in "".join(encoding.strings[1:])  # shown readably, not as SentencePiece spells it
    assert model.tokenizer.kind == "sentencepiece"
    assert append_token("the", model.tokenizer.id_to_token(encoding.ids[-1]), "sentencepiece") == "the queen"


def test_a_model_too_large_for_memory_is_refused_before_loading(tmp_path, tokenizer, monkeypatch):
    path = write_gguf(tmp_path / "big.gguf", random_llama(tokenizer, tie=True), tokenizer)
    monkeypatch.setattr("model.loading.available_memory", lambda: 100_000)  # 100 kB free
    with pytest.raises(ModelFileError, match="too large for this machine") as info:
        load_tracing_model(str(path))
    assert info.value.path == path and not (tmp_path / "cache").exists()
