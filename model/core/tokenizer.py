"""A thin wrapper over a Hugging Face ``tokenizers`` tokenizer that keeps character offsets."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from model.core.errors import ModelFileError
from model.core.validation import read_json, require_file


@dataclass(frozen=True)
class Encoding:
    """Token ids with, for each token, a readable string, its span in the text and whether
    the tokenizer inserted it (a special token with an empty span)."""

    ids: tuple[int, ...]
    strings: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]
    special: tuple[bool, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def tail(self, n: int, keep_first: bool) -> Encoding:
        """The last ``n`` tokens (keeping token 0, e.g. a BOS token, when ``keep_first``)."""
        if len(self) <= n:
            return self
        head = slice(0, 1) if keep_first else slice(0, 0)
        rest = slice(len(self) - (n - 1 if keep_first else n), len(self))

        def cut(items: tuple) -> tuple:
            return items[head] + items[rest]

        return Encoding(cut(self.ids), cut(self.strings), cut(self.offsets), cut(self.special))


def clean_text(text: str) -> str:
    """Make any Python string encodable: lone surrogates (e.g. from a broken paste) become
    U+FFFD, one character each, so offsets into the cleaned text match the original."""
    return _SURROGATES.sub("\ufffd", text)


_SURROGATES = re.compile("[\ud800-\udfff]")


_ATTACH_LEFT = set(".,;:!?)]}%'-")  # no space before these
_ATTACH_RIGHT = set("([{-")  # no space after these


def append_token(text: str, token: str, kind: str) -> str:
    """The text a person would see after appending a sampled ``token`` to ``text``.

    Byte-level tokens carry their own leading space (' cat'). Word pieces do not: a
    continuation ('##ing') joins the previous word, punctuation attaches to it, and any
    other piece starts a new word.
    """
    if kind in ("byte_level", "sentencepiece"):
        return text + token
    if kind == "wordpiece" and token.startswith("##"):
        return text + token[2:]
    if token.startswith("[") and token.endswith("]"):
        return text  # special tokens ([SEP], [UNK]) have no text
    if not text or text[-1].isspace():
        return text + token
    if token in _ATTACH_LEFT or text[-1] in _ATTACH_RIGHT:
        return text + token
    if text[-1] == "'" and token.isalpha() and len(token) <= 2 and len(text) > 1 and text[-2].isalnum():
        return text + token  # contractions and possessives: man ' s → man's, don ' t → don't
    return text + " " + token


def append_bytes(text: str, tail: bytes, data: bytes) -> tuple[str, bytes]:
    """Append a byte-level token's bytes to ``text``: (the text with every character now
    complete, the bytes of a character still incomplete). GPT-2 splits an accented letter,
    an emoji or a Chinese character across tokens of one to three bytes each; appending
    each token's own decoding would write U+FFFD for every part."""
    pending = tail + data
    for cut in range(len(pending), max(len(pending) - 4, -1), -1):
        try:
            decoded = pending[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        rest = pending[cut:]
        if len(rest) < 4 and _could_continue(rest):
            return text + decoded, rest
    return text + pending.decode("utf-8", errors="replace"), b""  # not UTF-8 at all


def _could_continue(rest: bytes) -> bool:
    """True when ``rest`` is empty or the start of a UTF-8 character still missing bytes."""
    if not rest:
        return True
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return False


class TextTokenizer:
    """Encode text to token ids, keeping each token's character span.

    Parameters
    ----------
    tokenizer
        A ``tokenizers.Tokenizer``; its built-in padding and truncation are switched off
        (the model decides how to truncate, and says so).
    bos_token_id
        When set, this id is put in front of every encoding.
    add_special_tokens
        Whether the tokenizer's own post-processor adds its special tokens ([CLS]/[SEP]
        for BERT-family encoders). Off for causal language models.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        bos_token_id: int | None = None,
        add_special_tokens: bool = False,
    ) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tok = tokenizer
        self.bos_token_id = bos_token_id
        self.add_special_tokens = add_special_tokens
        self._byte_level = "ByteLevel" in type(tokenizer.decoder).__name__ if tokenizer.decoder else False
        # SentencePiece-style (Llama 2, TinyLlama): "▁" marks a space inside pieces.
        self._metaspace = type(tokenizer.pre_tokenizer).__name__ == "Metaspace"
        self._special_ids = {
            tid for tid, added in tokenizer.get_added_tokens_decoder().items() if added.special
        }
        self._special_pieces = {
            added.content for added in tokenizer.get_added_tokens_decoder().values() if added.special
        }
        self._vocab_cache: dict[str, int] | None = None

    def _vocab(self) -> dict[str, int]:
        """Every piece with its id, added tokens included: read once (30-40 ms for a 30k
        vocabulary, and a load asked for it two or three times). Do not change it."""
        if self._vocab_cache is None:
            self._vocab_cache = self._tok.get_vocab(with_added_tokens=True)
        return self._vocab_cache

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> TextTokenizer:
        path = require_file(Path(path), "tokenizer file")
        try:
            read_json(path, "tokenizer file")  # size, encoding and nesting, before the Rust parser
            tokenizer = Tokenizer.from_file(str(path))
        except ModelFileError as exc:
            raise ModelFileError(path, f"not a valid tokenizer.json ({exc.problem})") from exc
        except Exception as exc:  # tokenizers raises a bare Exception
            raise ModelFileError(path, f"not a valid tokenizer.json ({exc})") from exc
        return cls(tokenizer, **kwargs)

    @property
    def kind(self) -> str:
        """'byte_level', 'sentencepiece', 'wordpiece' or 'other': how pieces join back into
        text (byte-level and SentencePiece pieces carry their own spaces)."""
        if self._byte_level:
            return "byte_level"
        if self._metaspace:
            return "sentencepiece"
        return "wordpiece" if type(self._tok.model).__name__ == "WordPiece" else "other"

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def largest_id(self) -> tuple[str, int]:
        """The token with the highest id (added tokens included) and that id; ('', -1) if none."""
        vocab = self._vocab()
        if not vocab:
            return "", -1
        token = max(vocab, key=vocab.__getitem__)
        return token, vocab[token]

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def id_to_token(self, token_id: int) -> str:
        return self.display(self._tok.id_to_token(int(token_id)) or f"<{token_id}>")

    def vocabulary(self, size: int | None = None) -> list[str]:
        """Readable token strings indexed by id, ``size`` long (ids the tokenizer lacks,
        e.g. padding rows of a model's table, read ``<id>``)."""
        vocab = self._vocab()
        strings = [f"<{i}>" for i in range(size if size is not None else self.vocab_size)]
        for token, token_id in vocab.items():
            if token_id < len(strings):
                strings[token_id] = self.display(token)
        return strings

    def display(self, piece: str) -> str:
        """A vocabulary piece as a person reads it: byte-level 'Ġcat' → ' cat', SentencePiece
        '▁cat' → ' cat'. A byte-level piece that is part of a character (GPT-2 cuts é, emoji and
        Chinese into 1-3 byte tokens) reads as its bytes, '<E4 B8>', so no two tokens read the
        same (not all as U+FFFD); in a trace, :func:`join_byte_pieces` names them by the
        character they belong to."""
        if self._metaspace and piece not in self._special_pieces:
            return piece.replace("\u2581", " ")
        if not self._byte_level:
            return piece
        token_id = self._tok.token_to_id(piece)
        if token_id is None or token_id in self._special_ids:
            return piece
        text = self._tok.decode([token_id], skip_special_tokens=False)
        if "\ufffd" in text:
            data = self.piece_bytes(piece)
            if data is not None and b"\xef\xbf\xbd" not in data:
                return "<" + " ".join(f"{b:02X}" for b in data) + ">"
        return text

    def piece_bytes(self, piece: str) -> bytes | None:
        """The bytes a byte-level vocabulary piece stands for ('Ġ' is the space byte)."""
        decoder = _byte_decoder()
        try:
            return bytes(decoder[c] for c in piece)
        except KeyError:
            return None

    def token_bytes(self, size: int | None = None) -> tuple[bytes, ...] | None:
        """Each id's bytes, ``size`` long (b"" for ids without text), for byte-level
        tokenizers; None for others."""
        if not self._byte_level:
            return None
        table = [b""] * (size if size is not None else self.vocab_size)
        for piece, token_id in self._vocab().items():
            if token_id < len(table) and token_id not in self._special_ids:
                table[token_id] = self.piece_bytes(piece) or b""
        return tuple(table)

    def encode(self, text: str) -> Encoding:
        text = clean_text(text)
        enc = self._tok.encode(text, add_special_tokens=self.add_special_tokens)
        ids = list(enc.ids)
        offsets = [tuple(o) for o in enc.offsets]
        special = [bool(s) for s in enc.special_tokens_mask]
        if self.bos_token_id is not None:
            ids.insert(0, self.bos_token_id)
            offsets.insert(0, (0, 0))
            special.insert(0, True)
        strings = join_byte_pieces(text, [self.id_to_token(i) for i in ids], offsets)
        return Encoding(tuple(ids), tuple(strings), tuple(offsets), tuple(special))

    def decode(self, ids: list[int] | tuple[int, ...]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=True)


def join_byte_pieces(text: str, strings: list[str], offsets: list[tuple[int, int]]) -> list[str]:
    """Name byte-level tokens that hold only part of a character by that character.

    A byte-level BPE model sees "注" as three tokens of one UTF-8 byte each; each decodes to
    U+FFFD on its own (and reads as its bytes, '<E6>', in the vocabulary). Such a run of tokens covering the same characters is shown as
    "注 1/3", "注 2/3", "注 3/3": the model's real token count, readable.
    """
    out = list(strings)
    i = 0
    while i < len(out):
        if not _is_byte_piece(out[i]) or offsets[i][1] <= offsets[i][0]:
            i += 1
            continue
        j = i
        while j + 1 < len(out) and offsets[j + 1] == offsets[i] and _is_byte_piece(out[j + 1]):
            j += 1
        start, end = offsets[i]
        piece = text[start:end].strip() or text[start:end]
        n = j - i + 1
        for k in range(i, j + 1):
            out[k] = f"{piece} {k - i + 1}/{n}" if n > 1 else piece
        i = j + 1
    return out


_BYTES = re.compile(r"<[0-9A-F]{2}( [0-9A-F]{2})*>")


def _is_byte_piece(string: str) -> bool:
    return "\ufffd" in string or _BYTES.fullmatch(string) is not None


@functools.lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte, reversed (its ``bytes_to_unicode``)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}
