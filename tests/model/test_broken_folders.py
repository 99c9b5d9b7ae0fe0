"""Broken model folders, one row each: every one must fail fast with a ModelFileError whose
message names the file at fault (and the key in it), never with another exception.

Every case of issue #14 is here (int/bool weights, ``n_heads: true``, NaN or negative eps,
``sinusoid_base`` 0, 3e38 weights, BOS ids outside the vocabulary, tokenizer ids above
``vocab_size``, a 10⁵-deep config, ``n_layers: 4.5``, ``n_ctx: 10**9``,
``vocab_size: 10**12``, ``dropout: 2``, ``adaptive_div_value: 0``, numeric and escaping
shard names, an unreadable folder), in this app's own format and in the GPT-2 and BERT
readers. Folders are built by hand (no transformers import) so the table stays quick.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from model.core.errors import ModelFileError
from model.core.transformer import Transformer
from model.core.weights import save_model
from model.loading import load_tracing_model
from tests.model.conftest import tiny_config, train_byte_bpe, train_wordpiece

SECONDS = 2.0  # every refusal, including the ones about memory, is immediate

D, L, H, C, M = 32, 2, 4, 16, 64


# ----------------------------------------------------------------------------- folders


def _own(folder: Path) -> None:
    torch.manual_seed(0)
    tok = train_wordpiece()
    cfg = tiny_config(vocab_size=tok.get_vocab_size(), bos_token_id=2, positional="sinusoidal",
                      adaptive_cutoffs=(20,), n_ctx=C)
    save_model(Transformer(cfg), folder)
    tok.save(str(folder / "tokenizer.json"))


def _gpt2(folder: Path) -> None:
    tok = train_byte_bpe()
    V = tok.get_vocab_size()
    g = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return 0.1 * torch.randn(shape, generator=g)

    state = {"wte.weight": r(V, D), "wpe.weight": r(C, D), "ln_f.weight": 1 + r(D), "ln_f.bias": r(D)}
    for i in range(L):
        p = f"h.{i}."
        state |= {p + "ln_1.weight": 1 + r(D), p + "ln_1.bias": r(D), p + "ln_2.weight": 1 + r(D),
                  p + "ln_2.bias": r(D), p + "attn.c_attn.weight": r(D, 3 * D), p + "attn.c_attn.bias": r(3 * D),
                  p + "attn.c_proj.weight": r(D, D), p + "attn.c_proj.bias": r(D),
                  p + "mlp.c_fc.weight": r(D, M), p + "mlp.c_fc.bias": r(M),
                  p + "mlp.c_proj.weight": r(M, D), p + "mlp.c_proj.bias": r(D)}
    folder.mkdir(parents=True)
    save_file(state, str(folder / "model.safetensors"))
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_positions": C,
              "n_embd": D, "n_layer": L, "n_head": H, "n_inner": M, "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new", "tie_word_embeddings": True}
    (folder / "config.json").write_text(json.dumps(config))
    tok.save(str(folder / "tokenizer.json"))


def _bert(folder: Path) -> None:
    tok = train_wordpiece()
    V = tok.get_vocab_size()
    g = torch.Generator().manual_seed(0)

    def r(*shape: int) -> torch.Tensor:
        return 0.1 * torch.randn(shape, generator=g)

    e = "embeddings."
    state = {e + "word_embeddings.weight": r(V, D), e + "position_embeddings.weight": r(C, D),
             e + "token_type_embeddings.weight": r(2, D), e + "LayerNorm.weight": 1 + r(D), e + "LayerNorm.bias": r(D)}
    for i in range(L):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            state |= {f"{p}attention.self.{n}.weight": r(D, D), f"{p}attention.self.{n}.bias": r(D)}
        state |= {p + "attention.output.dense.weight": r(D, D), p + "attention.output.dense.bias": r(D),
                  p + "attention.output.LayerNorm.weight": 1 + r(D), p + "attention.output.LayerNorm.bias": r(D),
                  p + "intermediate.dense.weight": r(M, D), p + "intermediate.dense.bias": r(M),
                  p + "output.dense.weight": r(D, M), p + "output.dense.bias": r(D),
                  p + "output.LayerNorm.weight": 1 + r(D), p + "output.LayerNorm.bias": r(D)}
    folder.mkdir(parents=True)
    save_file(state, str(folder / "model.safetensors"))
    config = {"model_type": "bert", "vocab_size": V, "max_position_embeddings": C, "hidden_size": D,
              "num_hidden_layers": L, "num_attention_heads": H, "intermediate_size": M, "hidden_act": "gelu",
              "layer_norm_eps": 1e-12}
    (folder / "config.json").write_text(json.dumps(config))
    tok.save(str(folder / "tokenizer.json"))


BUILDERS = {"own": _own, "gpt2": _gpt2, "bert": _bert}


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("templates")
    out = {}
    for kind, build in BUILDERS.items():
        build(root / kind)
        out[kind] = root / kind
        for path in [root, out[kind], *out[kind].iterdir()]:  # a folder its user can read
            path.chmod(0o755 if path.is_dir() else 0o644)
        # Load once with full rights: whatever the loaders import lazily is imported now, not
        # while a case runs as `nobody`, who may not read the interpreter's own files.
        load_tracing_model(out[kind], device="cpu").trace("the king")
    return out


# ----------------------------------------------------------------------------- edits


def config(**changes) -> Callable[[Path], None]:
    """Set (or, for a value of ``...``, delete) keys of config.json."""

    def edit(folder: Path) -> None:
        data = json.loads((folder / "config.json").read_text())
        for key, value in changes.items():
            if value is ...:
                data.pop(key, None)
            else:
                data[key] = value
        (folder / "config.json").write_text(json.dumps(data))  # NaN/Infinity written as JSON allows

    return edit


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return edit


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def tensors(change: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        state = load_file(str(folder / "model.safetensors"))
        change(state)
        save_file(state, str(folder / "model.safetensors"))
        (folder / "model.safetensors").chmod(0o644)  # save_file writes 0600

    return edit


def set_tensor(name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Path], None]:
    def change(state: dict[str, torch.Tensor]) -> None:
        state[name] = fn(state[name]).contiguous()

    return tensors(change)


def all_tensors(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Path], None]:
    def change(state: dict[str, torch.Tensor]) -> None:
        for key in list(state):
            state[key] = fn(state[key]).contiguous()

    return tensors(change)


def add_token(token_id: int) -> Callable[[Path], None]:
    """An added token whose id is far beyond the model's vocabulary."""

    def edit(folder: Path) -> None:
        data = json.loads((folder / "tokenizer.json").read_text())
        data["added_tokens"].append({"id": token_id, "content": "[FAR]", "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": False, "special": True})
        (folder / "tokenizer.json").write_text(json.dumps(data))

    return edit


def shard_index(weight_map) -> Callable[[Path], None]:
    """Replace model.safetensors by an index naming ``weight_map``'s shards."""

    def edit(folder: Path) -> None:
        state = load_file(str(folder / "model.safetensors"))
        (folder / "model.safetensors").unlink()
        save_file(state, str(folder / "model-00001-of-00001.safetensors"))
        (folder / "model-00001-of-00001.safetensors").chmod(0o644)
        wm = weight_map if not callable(weight_map) else weight_map(state)
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))

    return edit


def shards_naming(name) -> Callable[[dict], dict]:
    """Every tensor in the one real shard, except the first, which points at ``name``."""

    def weight_map(state: dict) -> dict:
        names = sorted(state)
        return {names[0]: name} | {n: "model-00001-of-00001.safetensors" for n in names[1:]}

    return weight_map


def as_bin(make: Callable[[dict], object]) -> Callable[[Path], None]:
    """Replace model.safetensors by a ``pytorch_model.bin`` holding ``make(state)``."""

    def edit(folder: Path) -> None:
        state = load_file(str(folder / "model.safetensors"))
        (folder / "model.safetensors").unlink()
        torch.save(make(state), folder / "pytorch_model.bin")

    return edit


def deep_json(depth: int = 100_000) -> str:
    return '{"vocab_size": ' + "[" * depth + "]" * depth + "}"


def unreadable(name: str | None) -> Callable[[Path], None]:
    """chmod 000 the folder (``None``) or one file in it."""

    def edit(folder: Path) -> None:
        (folder if name is None else folder / name).chmod(0)

    return edit


def both(*edits: Callable[[Path], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        for e in edits:
            e(folder)

    return edit


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # own, gpt2, bert
    edit: Callable[[Path], None]
    file: str  # name of the file (or "" for the folder itself) the message must name
    key: str | None = None  # config key or tensor name the message must name
    not_in_message: str | None = None


QKV = "blocks.0.attn.qkv.weight"
CASES = [
    # -- this app's own format: config values, type and range
    Case("own-n_heads-true", "own", config(n_heads=True), "config.json", "n_heads"),
    Case("own-n_layers-4.5", "own", config(n_layers=4.5), "config.json", "n_layers"),
    Case("own-n_layers-string", "own", config(n_layers="2"), "config.json", "n_layers"),
    Case("own-n_ctx-zero", "own", config(n_ctx=0), "config.json", "n_ctx"),
    Case("own-n_ctx-1e9", "own", config(n_ctx=10**9), "config.json", "n_ctx"),
    Case("own-vocab_size-1e12", "own", config(vocab_size=10**12), "config.json", "vocab_size"),
    Case("own-vocab_size-missing", "own", config(vocab_size=...), "config.json", "vocab_size"),
    Case("own-vocab_size-5000-digits", "own", write("config.json", '{"vocab_size": ' + "9" * 5000 + "}"),
         "config.json"),
    Case("own-d_model-not-divisible", "own", config(n_heads=5), "config.json", "n_heads"),
    Case("own-d_mlp-negative", "own", config(d_mlp=-1), "config.json", "d_mlp"),
    Case("own-eps-nan", "own", config(layer_norm_eps=float("nan")), "config.json", "layer_norm_eps"),
    Case("own-eps-negative", "own", config(layer_norm_eps=-1), "config.json", "layer_norm_eps"),
    Case("own-eps-infinity", "own", config(layer_norm_eps=float("inf")), "config.json", "layer_norm_eps"),
    Case("own-eps-string", "own", config(layer_norm_eps="1e-5"), "config.json", "layer_norm_eps"),
    Case("own-sinusoid_base-zero", "own", config(sinusoid_base=0), "config.json", "sinusoid_base"),
    Case("own-dropout-2", "own", config(dropout=2), "config.json", "dropout"),
    Case("own-dropout-1", "own", config(dropout=1.0), "config.json", "dropout"),
    Case("own-adaptive_div_value-0", "own", config(adaptive_div_value=0), "config.json", "adaptive_div_value"),
    Case("own-adaptive_div_value-tiny", "own", config(adaptive_div_value=1e-300), "config.json", "adaptive_div_value"),
    Case("own-adaptive_cutoffs-zero", "own", config(adaptive_cutoffs=[0]), "config.json", "adaptive_cutoffs"),
    Case("own-bos-1e9", "own", config(bos_token_id=10**9), "config.json", "bos_token_id"),
    Case("own-bos-negative", "own", config(bos_token_id=-5), "config.json", "bos_token_id"),
    Case("own-output_ids-outside", "own", config(output_token_ids=[1, 10**6]), "config.json", "output_token_ids"),
    Case("own-causal-string", "own", config(causal="yes"), "config.json", "causal"),
    Case("own-positional-rotary", "own", config(positional="rotary"), "config.json", "positional"),
    Case("own-activation-swish", "own", config(activation="swish"), "config.json", "activation"),
    Case("own-name-number", "own", config(name=5), "config.json", "name"),
    Case("own-unknown-key", "own", config(colour="blue"), "config.json", "colour"),
    # -- this app's own format: the file itself
    Case("own-config-missing", "own", remove("config.json"), "config.json"),
    Case("own-config-not-json", "own", write("config.json", "{not json"), "config.json"),
    Case("own-config-empty", "own", write("config.json", ""), "config.json"),
    Case("own-config-list", "own", write("config.json", "[1, 2]"), "config.json"),
    Case("own-config-not-utf8", "own", write("config.json", b'{"vocab_size": "\xff\xfe"}'), "config.json"),
    Case("own-config-deep", "own", write("config.json", deep_json()), "config.json"),
    Case("own-config-a-folder", "own", both(remove("config.json"), lambda f: (f / "config.json").mkdir()),
         "config.json"),
    Case("own-folder-unreadable", "own", unreadable(None), "", not_in_message="No such file"),
    Case("own-config-unreadable", "own", unreadable("config.json"), "config.json", not_in_message="No such file"),
    # -- this app's own format: tensors
    Case("own-weights-missing", "own", remove("model.safetensors"), "model.safetensors"),
    Case("own-weights-truncated", "own", lambda f: (f / "model.safetensors").write_bytes(
        (f / "model.safetensors").read_bytes()[:500]), "model.safetensors"),
    # safetensors reports an unreadable file as "No such file or directory" (issue #14)
    Case("own-weights-unreadable", "own", unreadable("model.safetensors"), "model.safetensors",
         not_in_message="No such file"),
    Case("own-weights-int32", "own", set_tensor(QKV, lambda t: t.to(torch.int32)), "model.safetensors", QKV),
    Case("own-weights-all-int64", "own", all_tensors(lambda t: t.to(torch.int64)), "model.safetensors"),
    Case("own-weights-bool", "own", set_tensor("ln_f.weight", lambda t: t > 0), "model.safetensors", "ln_f.weight"),
    Case("own-weights-3e38", "own", set_tensor(QKV, lambda t: torch.full_like(t, 3e38)), "model.safetensors", QKV),
    Case("own-weights-one-3e38", "own", set_tensor("tok_embed.weight", lambda t: t.index_fill(0, torch.tensor([7]), 3e38)),
         "model.safetensors", "tok_embed.weight"),
    Case("own-weights-nan", "own", set_tensor("ln_f.bias", lambda t: t.fill_(float("nan"))), "model.safetensors",
         "ln_f.bias"),
    Case("own-weights-inf", "own", set_tensor("ln_f.bias", lambda t: t.fill_(float("-inf"))), "model.safetensors",
         "ln_f.bias"),
    Case("own-weights-wrong-shape", "own", set_tensor(QKV, lambda t: t[:, :8]), "model.safetensors", QKV),
    Case("own-weights-missing-tensor", "own", tensors(lambda s: s.pop("ln_f.bias")), "model.safetensors", "ln_f.bias"),
    Case("own-weights-extra-tensor", "own", tensors(lambda s: s.update(extra=torch.zeros(2))), "model.safetensors",
         "extra"),
    # -- this app's own format: tokenizer
    Case("own-tokenizer-missing", "own", remove("tokenizer.json"), "tokenizer.json"),
    Case("own-tokenizer-not-json", "own", write("tokenizer.json", "{"), "tokenizer.json"),
    Case("own-tokenizer-deep", "own", write("tokenizer.json", deep_json()), "tokenizer.json"),
    Case("own-tokenizer-id-above-vocab", "own", add_token(5000), "tokenizer.json", "vocab_size"),
    # -- GPT-2 folders
    Case("gpt2-n_head-true", "gpt2", config(n_head=True), "config.json", "n_head"),
    Case("gpt2-n_layer-4.5", "gpt2", config(n_layer=4.5), "config.json", "n_layer"),
    Case("gpt2-eps-nan", "gpt2", config(layer_norm_epsilon=float("nan")), "config.json", "layer_norm_epsilon"),
    Case("gpt2-eps-list", "gpt2", config(layer_norm_epsilon=[1]), "config.json", "layer_norm_epsilon"),
    Case("gpt2-tie-string", "gpt2", config(tie_word_embeddings="false"), "config.json", "tie_word_embeddings"),
    Case("gpt2-n_positions-1e9", "gpt2", config(n_positions=10**9), "config.json", "n_positions"),
    Case("gpt2-vocab_size-1e12", "gpt2", config(vocab_size=10**12), "config.json", "vocab_size"),
    Case("gpt2-architectures-number", "gpt2", config(model_type=..., architectures=5), "config.json"),
    Case("gpt2-config-deep", "gpt2", write("config.json", deep_json()), "config.json"),
    Case("gpt2-tokenizer-above-vocab", "gpt2", config(vocab_size=100), "tokenizer.json", "vocab_size"),
    Case("gpt2-weights-int32", "gpt2", set_tensor("wte.weight", lambda t: t.to(torch.int32)), "model.safetensors",
         "wte.weight"),
    Case("gpt2-weights-3e38", "gpt2", set_tensor("h.0.mlp.c_fc.weight", lambda t: torch.full_like(t, 3e38)),
         "model.safetensors", "h.0.mlp.c_fc.weight"),
    Case("gpt2-shard-etc-passwd", "gpt2", shard_index(shards_naming("/etc/passwd")),
         "model.safetensors.index.json", "weight_map"),
    Case("gpt2-shard-dotdot", "gpt2", shard_index(shards_naming("../x.safetensors")),
         "model.safetensors.index.json", "weight_map"),
    Case("gpt2-shard-numeric", "gpt2", shard_index(shards_naming(3)), "model.safetensors.index.json", "weight_map"),
    Case("gpt2-shard-missing", "gpt2", shard_index(shards_naming("model-00002-of-00002.safetensors")),
         "model-00002-of-00002.safetensors"),
    Case("gpt2-index-not-a-map", "gpt2", shard_index([1, 2]), "model.safetensors.index.json", "weight_map"),
    Case("gpt2-index-deep", "gpt2", both(shard_index({}), write("model.safetensors.index.json", deep_json())),
         "model.safetensors.index.json"),
    Case("gpt2-shard-unreadable", "gpt2", both(shard_index(shards_naming("model-00001-of-00001.safetensors")),
                                                unreadable("model-00001-of-00001.safetensors")),
         "model-00001-of-00001.safetensors", not_in_message="No such file"),
    Case("gpt2-bin-a-list", "gpt2", as_bin(lambda state: [1, 2]), "pytorch_model.bin"),
    Case("gpt2-bin-garbage", "gpt2", both(as_bin(lambda state: state), write("pytorch_model.bin", b"PK\x03\x04junk")),
         "pytorch_model.bin"),
    Case("gpt2-bin-int64", "gpt2", as_bin(lambda state: {k: v.long() for k, v in state.items()}), "pytorch_model.bin",
         "wte.weight"),
    Case("gpt2-config-unreadable", "gpt2", unreadable("config.json"), "config.json", not_in_message="No such file"),
    # -- BERT folders
    Case("bert-hidden_size-true", "bert", config(hidden_size=True), "config.json", "hidden_size"),
    Case("bert-eps-negative", "bert", config(layer_norm_eps=-1), "config.json", "layer_norm_eps"),
    Case("bert-positions-1e9", "bert", config(max_position_embeddings=10**9), "config.json",
         "max_position_embeddings"),
    Case("bert-weights-bool", "bert", set_tensor("embeddings.LayerNorm.weight", lambda t: t > 0),
         "model.safetensors", "embeddings.LayerNorm.weight"),
    Case("bert-weights-3e38", "bert", set_tensor("encoder.layer.1.output.dense.weight", lambda t: t.fill_(3e38)),
         "model.safetensors", "encoder.layer.1.output.dense.weight"),
    Case("bert-tokenizer-above-vocab", "bert", add_token(5000), "tokenizer.json", "vocab_size"),
]


def test_the_table_is_large_and_unique():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@contextlib.contextmanager
def as_unprivileged():
    """Root reads any file whatever its mode: drop to ``nobody`` for the duration."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def case_root():
    # Not tmp_path: pytest's tmp folders are private to root, and a permission case must
    # fail on the file it names, not on a parent folder.
    root = Path(tempfile.mkdtemp(prefix="broken-"))
    root.chmod(0o755)
    yield root
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(OSError):
            path.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_folder_gives_a_message_naming_file_and_key(case: Case, templates, case_root):
    folder = case_root / "model"
    shutil.copytree(templates[case.kind], folder)
    case.edit(folder)
    start = time.perf_counter()
    with as_unprivileged(), pytest.raises(ModelFileError) as info:
        load_tracing_model(folder, device="cpu")
    elapsed = time.perf_counter() - start
    error = info.value
    message = str(error)
    expected = folder / case.file if case.file else folder
    assert error.path == expected, message
    assert str(expected) in message
    if case.key is not None:
        assert case.key in message, message
    if case.not_in_message is not None:
        assert case.not_in_message not in message, message
    assert elapsed < SECONDS, f"{case.id} took {elapsed:.2f} s"


def test_a_shard_outside_the_folder_is_never_opened(templates, case_root, monkeypatch):
    import model.core.weights

    folder = case_root / "model"
    shutil.copytree(templates["gpt2"], folder)
    outside = case_root / "outside.safetensors"
    save_file({"x": torch.zeros(1)}, str(outside))
    shard_index(shards_naming(str(outside)))(folder)
    opened: list[str] = []
    real = model.core.weights.load_file
    monkeypatch.setattr(model.core.weights, "load_file", lambda p, *a, **k: opened.append(p) or real(p, *a, **k))
    with pytest.raises(ModelFileError, match="outside the model folder"):
        load_tracing_model(folder, device="cpu")
    assert opened == []  # refused by name, before any shard was read


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_unbroken_templates_load_and_trace(kind, templates):
    model = load_tracing_model(templates[kind], device="cpu")
    trace = model.trace("the king and the queen")
    assert trace.n_tokens > 0


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=2), st.none(), max_size=2),
)
EXTRA_KEYS = ["architectures", "model_type", "bos_token_id", "n_inner", "tie_word_embeddings", "hidden_act",
              "activation_function", "position_embedding_type", "is_decoder", "scale_attn_weights"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(sorted(BUILDERS)), value=JSON_VALUES)
def test_any_json_value_under_any_key_loads_or_is_a_model_file_error(templates, kind, value, data):
    """Found adaptive_div_value 1e-300 (an overflow in torch) and a numeric ``architectures``."""
    keys = sorted(json.loads((templates[kind] / "config.json").read_text())) + EXTRA_KEYS
    key = data.draw(st.sampled_from(keys))
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "model"
        shutil.copytree(templates[kind], folder)
        config(**{key: value})(folder)
        try:
            load_tracing_model(folder, device="cpu").trace("the king and the queen")
        except ModelFileError as error:
            assert error.path.parent == folder or error.path == folder


@pytest.mark.parametrize("kind, key", [("own", "n_layers"), ("gpt2", "n_layer"), ("bert", "num_hidden_layers")])
def test_a_config_claiming_10_to_the_15_layers_is_refused_before_anything_is_built(templates, kind, key, tmp_path):
    """Found by the fuzz test above in CI: the memory estimate counted the layers that keep a
    causal mask one by one, and 10¹⁵ of them never finished."""
    folder = tmp_path / "model"
    shutil.copytree(templates[kind], folder)
    config(**{key: 10**15})(folder)
    with pytest.raises(ModelFileError, match=key):
        load_tracing_model(folder, device="cpu")
