from __future__ import annotations

import pytest

from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer


def test_offsets_point_back_into_the_text(wordpiece_file):
    tok = TextTokenizer.from_file(wordpiece_file)
    text = "A Fluffy blue creature roamed"
    enc = tok.encode(text)
    assert [text[s:e].lower() for s, e in enc.offsets][:2] == ["a", "fluffy"]
    assert not any(enc.special)


def test_builtin_padding_and_truncation_are_off(wordpiece_file):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(wordpiece_file))
    raw.enable_padding(length=64)
    raw.enable_truncation(max_length=4)
    tok = TextTokenizer(raw)
    enc = tok.encode("the king and the queen and the man")
    assert len(enc) == 8 and "[PAD]" not in enc.strings


def test_bos_is_prepended_with_an_empty_span(wordpiece_file):
    tok = TextTokenizer.from_file(wordpiece_file, bos_token_id=2)
    enc = tok.encode("mole")
    assert enc.ids[0] == 2 and enc.offsets[0] == (0, 0) and enc.special[0]
    assert enc.strings[0] == "[CLS]"


def test_byte_level_tokens_are_shown_readably(byte_bpe_file):
    tok = TextTokenizer.from_file(byte_bpe_file)
    enc = tok.encode("the cat and the cats")
    assert all("Ġ" not in s for s in enc.strings)
    assert "".join(enc.strings) == "the cat and the cats"


def test_tail_keeps_the_first_token_when_asked(wordpiece_file):
    tok = TextTokenizer.from_file(wordpiece_file, bos_token_id=2)
    enc = tok.encode("the king and the queen")
    tail = enc.tail(3, keep_first=True)
    assert tail.ids == (enc.ids[0],) + enc.ids[-2:]
    assert enc.tail(3, keep_first=False).ids == enc.ids[-3:]


def test_missing_or_corrupt_tokenizer_file_names_the_file(tmp_path):
    with pytest.raises(ModelFileError, match="tokenizer file not found") as info:
        TextTokenizer.from_file(tmp_path / "nope.json")
    assert info.value.path == tmp_path / "nope.json"
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"version": "1.0", "model": 42}')
    with pytest.raises(ModelFileError, match="not a valid tokenizer.json"):
        TextTokenizer.from_file(bad)
    bad.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ModelFileError, match="not a valid tokenizer.json"):
        TextTokenizer.from_file(bad)


@pytest.mark.parametrize(
    "text, token, kind, expected",
    [
        ("the cat", "##s", "wordpiece", "the cats"),
        ("the cat", "sat", "wordpiece", "the cat sat"),
        ("the cat", ".", "wordpiece", "the cat."),
        ("the man", "'", "wordpiece", "the man'"),
        ("the man'", "s", "wordpiece", "the man's"),
        ("a well", "-", "wordpiece", "a well-"),
        ("a well-", "known", "wordpiece", "a well-known"),
        ("see (", "fig", "wordpiece", "see (fig"),
        ("he said '", "hello", "wordpiece", "he said ' hello"),
        ("the cat", "[SEP]", "wordpiece", "the cat"),
        ("", "the", "wordpiece", "the"),
        ("the cat ", "sat", "wordpiece", "the cat sat"),
        ("the cat", " sat", "byte_level", "the cat sat"),
        ("the cat", "s", "byte_level", "the cats"),
    ],
)
def test_appending_a_sampled_token_reads_naturally(text, token, kind, expected):
    from model.core.tokenizer import append_token

    assert append_token(text, token, kind) == expected


def test_tokenizer_kind(wordpiece_file, byte_bpe_file):
    assert TextTokenizer.from_file(wordpiece_file).kind == "wordpiece"
    assert TextTokenizer.from_file(byte_bpe_file).kind == "byte_level"


def test_byte_level_pieces_of_one_character_are_named_by_it():
    """Chinese, emoji and accents: a character split over several byte tokens is shown as
    that character with the piece number, never as U+FFFD, and the token count is the model's."""
    from tests.model.conftest import train_byte_bpe

    tok = TextTokenizer(train_byte_bpe())
    enc = tok.encode("注意力 😀 café")
    assert not any("\ufffd" in s for s in enc.strings)
    assert enc.strings[:3] == ("注 1/3", "注 2/3", "注 3/3")
    assert "😀 4/4" in enc.strings and "é 2/2" in enc.strings
    assert len(enc.strings) == len(enc.ids)


def test_chinese_on_a_qwen_layout_model_shows_the_tokens_it_sees(tmp_path):
    from model.loading import load_tracing_model
    from tests.model.test_hf_llama import make

    make(tmp_path / "qwen", "qwen2-biases-tied")
    model = load_tracing_model(tmp_path / "qwen")
    trace = model.trace("多头注意力")
    assert not any("\ufffd" in s for s in trace.token_strings)
    text = "".join(s.split(" ")[0] for s in trace.token_strings if not s.endswith(("2/3", "3/3")))
    assert "多头注意力" in text
    assert trace.offsets[-1][1] == len("多头注意力")
