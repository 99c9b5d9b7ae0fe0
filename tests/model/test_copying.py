"""The copying metric (model/training/copying.py) on tiny models, and the shipped weights' copying."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.core.paths import BUNDLED_MODEL_DIR
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.training.copying import (
    EVERYDAY_WORDS,
    copy_accuracy,
    copying_report,
    heads_knocked_out,
    repeated_item,
    sentence_items,
    word_list_items,
)
from tests.model.conftest import SENTENCES, tiny_config
from tests.numerics import REL64, assert_close, assert_differ


def test_a_repeated_item_scores_the_second_copy_after_its_first_token():
    item = repeated_item([5, 6, 7, 8], bos=2)
    assert item.ids.tolist() == [2, 5, 6, 7, 8, 5, 6, 7, 8]
    assert item.positions.tolist() == [5, 6, 7]  # the positions that see 5, 6, 7 of the second copy
    assert item.targets.tolist() == [6, 7, 8]
    assert (item.ids[item.positions + 1] == item.targets).all()  # each target is the next token


def test_word_lists_are_distinct_words_said_twice_and_seeded():
    lists = word_list_items(list(range(10, 60)), 20, seed=3, lengths=(10, 20), bos=2)
    again = word_list_items(list(range(10, 60)), 20, seed=3, lengths=(10, 20), bos=2)
    for a, b in zip(lists, again, strict=False):
        assert (a.ids == b.ids).all()
        n = (len(a.ids) - 1) // 2
        assert 10 <= n <= 20 and len(set(a.ids[1 : n + 1])) == n
        assert (a.ids[1 : n + 1] == a.ids[n + 1 :]).all()


class InductionOracle(torch.nn.Module):
    """Predicts, at each position, the token that followed the last earlier occurrence of
    the current token (an ideal induction head), else token 0."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.cfg = tiny_config(vocab_size=vocab_size, n_ctx=64)

    def forward(self, x):
        out = torch.zeros(*x.shape, self.cfg.vocab_size)
        for b in range(x.shape[0]):
            seen = {}
            for t in range(x.shape[1]):
                token = int(x[b, t])
                if token in seen:
                    out[b, t, int(x[b, seen[token] + 1])] = 1.0
                seen[token] = t
        return out


def test_an_ideal_induction_head_copies_perfectly_and_a_random_model_does_not():
    items = word_list_items(list(range(10, 60)), 30, seed=0, bos=2)
    assert copy_accuracy(InductionOracle(200), items) == 1.0
    torch.manual_seed(0)
    random_model = Transformer(tiny_config(n_ctx=64)).eval()
    assert copy_accuracy(random_model, items) < 0.2


def test_knocking_heads_out_zeroes_their_output_and_is_undone():
    torch.manual_seed(0)
    model = Transformer(tiny_config(n_ctx=64)).eval()
    x = torch.randint(4, 200, (2, 12))
    before = model(x)
    with heads_knocked_out(model, [(0, h) for h in range(model.cfg.n_heads)]):
        cache: dict = {}
        knocked = model(x, cache=cache)
        # every head of layer 0 silenced: the attention output is its bias alone
        assert_close(cache["blocks.0.attn.out"], model.blocks[0].attn.out.bias.expand(2, 12, -1), what="layer 0")
    assert_differ(knocked, before, what="layer 0 knocked out")
    with heads_knocked_out(model, [(1, 2)]):
        assert_differ(model(x), before, what="head 1.2 knocked out")
    assert_close(model(x), before, what="hooks removed")


def test_the_copying_report_runs_on_a_tiny_model(wordpiece_file):
    torch.manual_seed(0)
    tokenizer = TextTokenizer.from_file(wordpiece_file, bos_token_id=2)
    model = Transformer(tiny_config(n_ctx=64, bos_token_id=2)).eval()
    words = sorted({w for s in SENTENCES for w in s.replace(";", " ").replace(",", " ").split()})
    report = copying_report(model, tokenizer, [" ".join(SENTENCES) + "."] + [s + "." for s in SENTENCES], n_lists=8,
                            n_sentences=4, words=words, list_lengths=(4, 8), sentence_tokens=(4, 30))
    assert report["words"] >= 8 and report["word_lists"]["items"] == 8
    assert 0 <= report["word_lists"]["accuracy"] <= 1 and 0 <= report["sentences"]["accuracy"] <= 1
    assert report["induction_heads"] and all(len(h) == 2 for h in report["induction_heads"])
    assert report["knockouts"][-1]["label"].startswith("control")


def test_test_sentences_are_whole_sentences_in_the_length_range(wordpiece_file):
    tokenizer = TextTokenizer.from_file(wordpiece_file, bos_token_id=2)
    items = sentence_items(tokenizer, ["your journey starts with one step. the king and the queen."], 5, seed=0,
                           min_tokens=4, max_tokens=12, bos=2)
    assert len(items) == 2
    for item in items:
        n = (len(item.ids) - 1) // 2
        assert 4 <= n <= 12 and (item.ids[1 : n + 1] == item.ids[n + 1 :]).all()


def test_the_everyday_word_list_has_no_duplicates():
    assert len(set(EVERYDAY_WORDS)) == len(EVERYDAY_WORDS) >= 150


# --------------------------------------------------------------------------- shipped weights
@pytest.fixture(scope="module")
def shipped():
    if not (BUNDLED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("the bundled model is not in assets/teaching-model")
    from model.tracer.runner import TracingModel

    return TracingModel.from_folder(BUNDLED_MODEL_DIR)


def test_the_shipped_model_completes_the_repeated_sentence(shipped):
    trace = shipped.trace("the cat sat on the mat . the cat sat on the mat . the cat sat on the")
    vocabulary = shipped.tokenizer.vocabulary(shipped.cfg.vocab_size)
    assert vocabulary[int(np.argmax(trace.probs_at(-1)))] == "mat"


def test_the_shipped_model_continues_a_list_of_everyday_words(shipped):
    trace = shipped.trace("apple river chair window garden bottle apple river chair window")
    vocabulary = shipped.tokenizer.vocabulary(shipped.cfg.vocab_size)
    assert vocabulary[int(np.argmax(trace.probs_at(-1)))] == "garden"


def test_perplexity_is_reported_per_source_and_for_the_previous_sources():
    from model.training.evaluate import perplexity_by_source

    log_probs = np.log(np.array([0.5, 0.5, 0.25, 0.25, 0.1]))
    sources = np.array(["a", "a", "b", "b", "new"], dtype=object)
    out = perplexity_by_source(log_probs, sources, previous_sources=("a", "b"))
    assert_close([out["a"], out["b"], out["new"]], [2.0, 4.0, 10.0], REL64, what="per source")
    assert_close(out["previous sources"], np.sqrt(8.0), REL64, what="a and b")  # geometric mean over their tokens
    assert_close(out["all"], np.exp(-log_probs.mean()), REL64, what="all")
    assert out["tokens"] == {"a": 2, "b": 2, "new": 1}


def test_the_shipped_model_keeps_previous_token_heads_and_its_copying_needs_its_induction_heads(shipped):
    import json

    from model.analysis.heads import attention_patterns, previous_token_scores
    from model.training.copying import SHOW_LIST_SENTENCE, SHOW_PLAIN_SENTENCE

    module = shipped.module
    ids = torch.as_tensor([shipped.tokenizer.encode(SHOW_PLAIN_SENTENCE).ids])
    scores = previous_token_scores(attention_patterns(module, ids)[0][None])
    assert (scores >= 0.4).sum() >= 2  # the card's "What to show" names previous-token heads
    card = json.loads((BUNDLED_MODEL_DIR / "evaluation.json").read_text())
    induction = [tuple(h) for h in card["copying"]["induction_heads"]]
    x = torch.as_tensor([shipped.tokenizer.encode(SHOW_LIST_SENTENCE).ids])
    vocabulary = shipped.tokenizer.vocabulary(shipped.cfg.vocab_size)
    output_ids = np.asarray(shipped.cfg.output_token_ids)
    with torch.no_grad():
        assert vocabulary[int(output_ids[module(x)[0, -1].argmax()])] == "garden"
        with heads_knocked_out(module, induction):
            assert vocabulary[int(output_ids[module(x)[0, -1].argmax()])] != "garden"
