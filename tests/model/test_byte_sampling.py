"""Byte-level sampling: tokens that are parts of a character append no U+FFFD, and the
embedding index keeps such tokens apart (GPT-2's byte-level BPE, trained offline)."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from model.analysis.analogy import EmbeddingIndex
from model.core.tokenizer import TextTokenizer, append_bytes

TEXTS = ["café déjà vu", "🙂 ok 🎉", "中文字符", "naïve 北京 🙂!"]


@pytest.fixture(scope="module")
def bytes_only() -> TextTokenizer:
    """GPT-2's byte alphabet without merges: every byte of é, 🙂 and 中 is its own token."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return TextTokenizer(tok)


@pytest.mark.parametrize("text", TEXTS)
def test_appending_tokens_one_by_one_rebuilds_the_text(bytes_only, text):
    table = bytes_only.token_bytes()
    out, tail, seen = "", b"", []
    for token_id in bytes_only.encode(text).ids:
        out, tail = append_bytes(out, tail, table[token_id])
        seen.append(out)
        assert "\ufffd" not in out
    assert out == text and tail == b""
    assert all(text.startswith(s) for s in seen)


def test_an_incomplete_character_waits_for_its_last_byte():
    data = "中".encode()
    text, tail = append_bytes("a", b"", data[:1])
    assert (text, tail) == ("a", data[:1])
    text, tail = append_bytes(text, tail, data[1:2])
    assert (text, tail) == ("a", data[:2])
    assert append_bytes(text, tail, data[2:]) == ("a中", b"")
    assert append_bytes("a", b"", b"\xff") == ("a\ufffd", b"")  # never UTF-8: said so, not held


def test_partial_byte_tokens_read_as_bytes_and_stay_distinct(bytes_only):
    vocab = bytes_only.vocabulary()
    partial = [v for v in vocab if v.startswith("<") and v.endswith(">")]
    assert len(partial) == 128 and len(set(partial)) == 128  # bytes 0x80-0xFF
    assert "\ufffd" not in "".join(vocab)
    assert vocab[bytes_only.encode("é").ids[0]] == "<C3>"
    import numpy as np

    index = EmbeddingIndex(np.eye(len(vocab), dtype=np.float32), vocab, prefer_word_start=True)
    ids = {index.token_id(v) for v in partial}
    assert len(ids) == 128  # one id each, not all folded into the first


def test_finishing_a_character_feeds_the_model_the_bytes_it_drew(bytes_only, monkeypatch):
    """After the first byte of 中 the model is asked about the ids with that byte in them,
    and sampling stops as soon as the character is whole."""
    import numpy as np
    import torch

    from model.core.transformer import Transformer
    from model.tracer import generation
    from model.tracer.runner import TracingModel
    from tests.model.conftest import tiny_config

    torch.manual_seed(0)
    model = TracingModel(Transformer(tiny_config(vocab_size=256, n_ctx=64)), bytes_only)
    lead, second, third = list(bytes_only.encode("中").ids)
    seen = []

    def next_logits(_model, ids):
        seen.append(list(ids))
        logits = np.full(256, -np.inf)
        logits[second if len(seen) == 1 else third] = 0.0
        return logits

    monkeypatch.setattr(generation, "next_logits", next_logits)
    done = generation.finish_character(model, "ab", [lead], temperature=1.0, seed=0)
    prefix = list(bytes_only.encode("ab").ids)
    assert seen == [prefix + [lead], prefix + [lead, second]]
    assert done.new_text == "ab中" and done.tokens == (lead, second, third)


def test_bytes_that_never_make_a_character_are_shown_as_such(bytes_only, monkeypatch):
    import numpy as np
    import torch

    from model.core.transformer import Transformer
    from model.tracer import generation
    from model.tracer.runner import TracingModel
    from tests.model.conftest import tiny_config

    torch.manual_seed(0)
    model = TracingModel(Transformer(tiny_config(vocab_size=256, n_ctx=64)), bytes_only)
    lead = bytes_only.encode("中").ids[0]
    a = bytes_only.encode("a").ids[0]

    def next_logits(_model, ids):
        logits = np.full(256, -np.inf)
        logits[a] = 0.0  # an ASCII letter cannot continue a 3-byte character
        return logits

    monkeypatch.setattr(generation, "next_logits", next_logits)
    done = generation.finish_character(model, "x", [lead], temperature=1.0, seed=0)
    assert done.new_text.startswith("x\ufffd") and "a" in done.new_text  # said, not hidden or stuck
    assert len(done.tokens) <= 1 + generation.MAX_EXTRA_TOKENS


def test_the_real_next_logits_equal_a_trace_of_the_same_text(bytes_only):
    import torch

    from model.core.transformer import Transformer
    from model.tracer.generation import next_logits
    from model.tracer.runner import TracingModel
    from tests.model.conftest import tiny_config
    from tests.numerics import assert_close

    torch.manual_seed(0)
    model = TracingModel(Transformer(tiny_config(vocab_size=256, n_ctx=64)), bytes_only)
    trace = model.trace("café")
    assert_close(next_logits(model, list(trace.token_ids)), trace.logits_at(-1), what="next logits")
