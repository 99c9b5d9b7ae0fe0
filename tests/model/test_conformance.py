"""Every tracer gives the Trace of the one forward pass, for every shape of model.

Tracers:

* **full**: :class:`~model.tracer.runner.TracingModel` with incremental tracing off, one
  forward pass of the whole text. It is the reference here; the test_hf_* tests hold it to
  transformers.
* **incremental**: the same TracingModel as the app runs it (model/core/incremental.py: the
  forward pass from the last trace's keys and values), typing at the end, editing in the
  middle, past the context window; with heads knocked out too (zero and mean).
* **forward from past keys**: :class:`~model.core.transformer.Transformer` itself run a piece
  at a time with a :class:`~model.core.transformer.KVCache`.
* **NumPy first trace** (model/tracer/numpy_forward.py), for the shapes it covers.

Shapes: the bundled model itself and a tiny one built like it (a tied adaptive softmax over
an output list, a narrower embedding projected in, sinusoidal positions), a tiny model with
learned positions and a linear unembedding with a bias, GPT-2 (tied), a BERT post-norm
encoder, Llama (grouped-query attention, RoPE with llama3 scaling), Qwen2 (q/k/v biases),
Qwen3 (q/k norm, YaRN), Mistral (a sliding window). The transformers families are tiny random
models saved as transformers saves them (tests/model/test_hf_*.py).

Tolerances (tests/model/conformance.py ``assert_same_trace``):

* incremental and forward from past keys against full: :data:`tests.numerics.REL` (1e-5) of
  each field's scale. The same arithmetic summed in another order: a matrix product over the
  new rows instead of the whole text, NumPy's product for the prefix's scores.
* NumPy against torch: 1e-5 of the scale plus 1e-5 of each value. NumPy's float32 sums in its
  own order and its GELU goes through a float64 erf; each of the two is ~2e-5 from a float64
  pass on the bundled model's scores (largest 26), i.e. under 1e-6 of the scale. Its
  log-probabilities of rare tokens (−20 and below, next to a largest logit of ~−2) are the
  reason for the per-value term: the tied softmax's tail is summed in another order. The
  tanh approximation of GELU in place of the exact one fails every NumPy case here.

Measured worst (``ATTENTION_EXPLORER_TOLERANCE_LOG``, 1 and 2 torch threads): 0.39 of the
tolerance (typing at the end), 0.27 (NumPy), 0.21 (the forward from past keys).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.analysis.ablation import knockout
from model.core.incremental import full_pass_reference
from model.core.paths import BUNDLED_MODEL_DIR
from model.core.transformer import KVCache, Transformer
from model.core.weights import save_model
from model.loading import load_tracing_model
from model.tracer.numpy_forward import NumpyTracingModel, unsupported
from tests.model.conformance import assert_same_trace
from tests.model.conftest import SENTENCES, tiny_config
from tests.numerics import assert_close, assert_differ

#: NumPy against torch (module docstring).
NUMPY_REL = 1e-5


def _tiny(folder: Path, wordpiece_file, **overrides) -> None:
    torch.manual_seed(0)
    module = Transformer(tiny_config(bos_token_id=2, **overrides)).eval()
    with torch.no_grad():
        for p in module.parameters():  # biases and norms away from their initial 0 and 1
            p.add_(0.05 * torch.randn_like(p))
    save_model(module, folder)
    (folder / "tokenizer.json").write_bytes(Path(wordpiece_file).read_bytes())


def _hf_llama(family: str):
    def build(folder: Path, _wordpiece_file) -> None:
        from tests.model.test_hf_llama import make

        make(folder, family)
    return build


def _hf_gemma(family: str):
    def build(folder: Path, _wordpiece_file) -> None:
        from tests.model.test_hf_gemma import make

        make(folder, family)
    return build


def _gpt2(folder: Path, _wordpiece_file) -> None:
    from tests.model.test_hf_gpt2 import make_gpt2

    make_gpt2(folder)  # context 24: long texts slide the window


def _bert(folder: Path, _wordpiece_file) -> None:
    from tests.model.test_hf_bert import make_bert

    make_bert(folder)


SHAPES = {
    "bundled": None,  # assets/teaching-model itself
    "bundled-like": lambda folder, wp: _tiny(
        folder, wp, positional="sinusoidal", d_embed=24, output_token_ids=tuple(range(10, 190)),
        adaptive_cutoffs=(40, 100), adaptive_tied=True, unembed_bias=True),
    "learned": lambda folder, wp: _tiny(folder, wp, positional="learned", unembed_bias=True),
    "gpt2": _gpt2,
    "bert-post-norm": _bert,
    "llama-gqa-rope": _hf_llama("llama-llama3-untied"),
    "qwen2-biases": _hf_llama("qwen2-biases-tied"),
    "qwen3-qk-norm": _hf_llama("qwen3-qknorm-yarn"),
    "mistral-window": _hf_llama("mistral-window"),
    "gemma2-softcaps": _hf_gemma("gemma2-softcaps-tied"),
    "gemma3-local-global": _hf_gemma("gemma3-two-bases-untied"),
}
#: The shapes the NumPy forward pass covers (a test checks that it covers no other).
NUMPY_SHAPES = ("bundled", "bundled-like", "learned")
CAUSAL = [name for name in SHAPES if name != "bert-post-norm"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory, wordpiece_file):
    """Each shape's model folder, built once for the module."""
    built = {}

    def folder(name: str) -> Path:
        if name not in built:
            if SHAPES[name] is None:
                if not (BUNDLED_MODEL_DIR / "model.safetensors").is_file():
                    pytest.skip("the bundled model is not in assets/teaching-model")
                built[name] = BUNDLED_MODEL_DIR
            else:
                built[name] = tmp_path_factory.mktemp("shape") / name
                SHAPES[name](built[name], wordpiece_file)
        return built[name]
    return folder


@pytest.fixture(scope="module")
def models(folders):
    loaded = {}

    def model(name: str):
        if name not in loaded:
            loaded[name] = load_tracing_model(str(folders(name)))
        return loaded[name]
    return model


@pytest.fixture(scope="module")
def numpy_models(folders, models):
    """The NumPy first-trace model of a shape's folder, with the torch model's name and cap."""
    loaded = {}

    def model(name: str) -> NumpyTracingModel:
        if name not in loaded:
            reference = models(name)
            loaded[name] = NumpyTracingModel.from_folder(folders(name), name=reference.name,
                                                         max_tokens=reference.max_tokens)
        return loaded[name]
    return model


def check_texts(model, texts, positions=("last", "all"), interventions=None, reuse: bool = True) -> None:
    """Each text traced as the app traces it (incrementally, after the one before) equals
    a full pass of it; logit positions alternate between ``positions``. ``reuse``: a causal
    model must have reused some rows (run from past keys) on the way."""
    model.forget_last_trace()
    reused = 0
    for i, text in enumerate(texts):
        where = positions[i % len(positions)]
        incremental = model.trace(text, logit_positions=where, interventions=interventions)
        if model._traces_incrementally(interventions):
            reused = max(reused, model._incremental_tracer(model._rows_key(interventions)).reused_rows)
        full = full_pass_reference(model, text, where, interventions)
        assert_same_trace(incremental, full, what=f"{text!r}")
    if reuse:
        assert (reused > 0) == model.cfg.causal  # a causal model did run from past keys


SENTENCE = "the king and the queen, the man and the woman"
TYPING = [SENTENCE[:n] for n in range(5, len(SENTENCE) + 1)]  # one character at a time
EDITS = [
    "the king and the queen walked",
    "the old king and the queen walked",  # a word in the middle
    "the old king and queen walked",  # one deleted
    "the old king and queen walked past",
    "a old king and queen walked past",  # the first word replaced
    "a old king and queen walked past the mill",  # a paste at the end
    "a old king and queen walked past the",
    "a",
]
LONG = " ".join(SENTENCES) * 2  # past every shape's context window (bundled: 128 tokens)
SLIDING = [LONG[:n] for n in range(len(LONG) - 40, len(LONG) + 1, 8)]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_typing_at_the_end(models, shape):
    model = models(shape)
    check_texts(model, TYPING)
    assert model._traces_incrementally() == model.cfg.causal  # an encoder: full passes


@pytest.mark.parametrize("shape", list(SHAPES))
def test_edits_in_the_middle(models, shape):
    check_texts(models(shape), EDITS)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_past_the_context_window(models, shape):
    model = models(shape)
    assert model.trace(LONG).truncated
    check_texts(model, SLIDING, reuse=False)  # the ids shift: only a kept BOS may stay in place


@pytest.mark.parametrize("mode", ["zero", "mean"])
@pytest.mark.parametrize("shape", CAUSAL)
def test_with_heads_knocked_out(models, shape, mode):
    """A knock-out handed to the trace: incremental under its own key, equal to its full pass,
    and different from the clean trace."""
    model = models(shape)
    means = model.reference_means() if mode == "mean" else None
    heads = [(0, 1), (model.cfg.n_layers - 1, 0)]
    interventions = knockout(model.module, heads, mode, means)
    assert model._traces_incrementally(interventions)
    check_texts(model, TYPING[::6] + EDITS, interventions=interventions)
    clean = full_pass_reference(model, SENTENCE, "last")
    knocked = model.trace(SENTENCE, interventions=interventions)
    assert_close(knocked.resid_pre[0], clean.resid_pre[0], what="the embedding, before any knock-out")
    assert_differ(knocked.resid_post[-1], clean.resid_post[-1], what="the last layer's output")
    if mode == "zero":  # the knocked-out head's output is that of its zeroed z
        np.testing.assert_array_equal(knocked.head_out[0, 1], 0.0)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_forward_from_past_keys_equals_one_pass_over_the_whole_text(models, shape):
    """Transformer.forward run a piece at a time (pieces of 3, 1, 1, 4 tokens and the rest)
    with a KVCache: each piece's captured rows are those rows of one pass, its scores and
    pattern the rows of the whole text's up to its last key. An encoder refuses."""
    model = models(shape)
    module = model.module
    ids = torch.tensor([model.encode(SENTENCE)[0].ids])  # (1, T)
    T = ids.shape[1]
    whole: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        logits = module(ids, cache=whole)
    if not model.cfg.causal:
        with pytest.raises(ValueError, match="encoder"):
            module(ids[:, 3:], past=KVCache())
        return
    past = KVCache()
    bounds = [0, 3, 4, 5, 9, T]
    for a, b in zip(bounds, bounds[1:], strict=False):
        piece: dict[str, torch.Tensor] = {}
        with torch.inference_mode():
            piece_logits = module(ids[:, a:b], cache=piece, past=past)
        assert past.offset == b
        assert_close(piece_logits, logits[:, a:b], floor=1.0, what=f"logits {a}:{b}")
        for name, expected in whole.items():
            if name == "logits":
                continue
            if name.endswith(("scores", "pattern")):
                expected = expected[..., a:b, :b]  # (B, H, b − a, b): these queries, every key so far
            elif name.startswith("blocks.") and ".attn." in name and expected.dim() == 4:
                expected = expected[:, :, a:b]  # (B, H, rows, …)
            else:
                expected = expected[:, a:b]  # (B, rows, d)
            assert_close(piece[name], expected, floor=1.0, what=f"{name} {a}:{b}")


@pytest.mark.parametrize("shape", NUMPY_SHAPES)
@pytest.mark.parametrize("positions", [[-1], [0, -1], "all"], ids=["last", "first-and-last", "all"])
@pytest.mark.parametrize("text", [
    "a fluffy blue creature roamed the verdant forest",
    "注意力机制 is attention in Chinese",
    "the robot 🤖 waved 👋 at the cat",
    "",  # one token: BOS alone
    " ".join(f"word{i % 17}" for i in range(300)),  # beyond the context: the last tokens
], ids=["english", "chinese", "emoji", "one-token", "at-the-cap"])
def test_the_numpy_first_trace(models, numpy_models, shape, text, positions):
    expected = full_pass_reference(models(shape), text, positions)
    actual = numpy_models(shape).trace(text, 0, positions)
    assert_same_trace(actual, expected, NUMPY_REL, rel_each=NUMPY_REL)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_numpy_forward_covers_exactly_the_shapes_above(models, shape):
    reason = unsupported(models(shape).cfg)
    assert (reason == "") == (shape in NUMPY_SHAPES), reason
