"""The corpus as token ids, and the output vocabulary the bundled model predicts.

Shared by the training and evaluation scripts so both see exactly the same tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.core.tokenizer import TextTokenizer

SPLITS = ("train", "valid", "test")


def read_documents(corpus_dir: Path, split: str) -> list[str]:
    path = Path(corpus_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build the corpus first with `python -m model.training.data`")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def read_sources(corpus_dir: Path, split: str) -> list[str]:
    """The source of each document of a split, in file order."""
    with (Path(corpus_dir) / f"{split}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["source"] for line in f if line.strip()]


def token_sources(tokenizer: TextTokenizer, corpus_dir: Path, split: str) -> np.ndarray:
    """The source name of every token of :func:`load_split_tokens`'s ids (a document's
    end-of-document token counts as that document's)."""
    documents, sources = read_documents(corpus_dir, split), read_sources(corpus_dir, split)
    raw = tokenizer._tok
    lengths = []
    for start in range(0, len(documents), 256):
        lengths += [len(enc.ids) + 1 for enc in raw.encode_batch(documents[start : start + 256], add_special_tokens=False)]
    return np.repeat(np.asarray(sources, dtype=object), lengths)


def tokenize_documents(tokenizer: TextTokenizer, documents: list[str], end_of_document: int) -> np.ndarray:
    """Concatenate the documents' token ids, each followed by ``end_of_document``."""
    raw = tokenizer._tok  # the batch API is much faster than one encode() per document
    pieces = []
    for start in range(0, len(documents), 256):
        for enc in raw.encode_batch(documents[start : start + 256], add_special_tokens=False):
            pieces.append(np.asarray(enc.ids, dtype=np.uint16))
            pieces.append(np.asarray([end_of_document], dtype=np.uint16))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint16)


def load_split_tokens(
    corpus_dir: Path, tokens_dir: Path, split: str, tokenizer: TextTokenizer, end_of_document: int
) -> np.ndarray:
    """Token ids of one split, cached as ``tokens_dir/{split}.npy`` (rebuilt when the corpus is newer)."""
    tokens_dir = Path(tokens_dir)
    cache = tokens_dir / f"{split}.npy"
    source = Path(corpus_dir) / f"{split}.jsonl"
    if cache.is_file() and source.is_file() and cache.stat().st_mtime >= source.stat().st_mtime:
        return np.load(cache)
    ids = tokenize_documents(tokenizer, read_documents(corpus_dir, split), end_of_document)
    tokens_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, ids)
    return ids


@dataclass(frozen=True)
class OutputVocabulary:
    """Token ids the model predicts, most frequent first; everything else maps to ``unk_id``.

    ``index_of[token_id]`` is the token's row in the output layer (the ``unk_id`` row for
    token ids outside the vocabulary).
    """

    token_ids: np.ndarray
    index_of: np.ndarray
    unk_id: int

    @classmethod
    def from_counts(cls, train_ids: np.ndarray, vocab_size: int, min_count: int, unk_id: int,
                    never: tuple[int, ...] = ()) -> OutputVocabulary:
        counts = np.bincount(train_ids.astype(np.int64), minlength=vocab_size)
        counts[list(never)] = 0
        keep = np.flatnonzero(counts >= min_count)
        if unk_id not in keep:
            keep = np.append(keep, unk_id)
        # most frequent first (adaptive softmax clusters by rank); ties by id for determinism
        order = np.lexsort((keep, -counts[keep]))
        return cls.from_token_ids(keep[order], vocab_size, unk_id)

    @classmethod
    def from_token_ids(cls, token_ids, vocab_size: int, unk_id: int) -> OutputVocabulary:
        token_ids = np.asarray(token_ids, dtype=np.int64)
        index_of = np.full(vocab_size, -1, dtype=np.int64)
        index_of[token_ids] = np.arange(len(token_ids))
        index_of[index_of < 0] = index_of[unk_id]
        return cls(token_ids, index_of, unk_id)

    def __len__(self) -> int:
        return len(self.token_ids)

    def targets(self, ids: np.ndarray) -> np.ndarray:
        """Map token ids to output rows (out-of-vocabulary ids become the UNK row)."""
        return self.index_of[ids.astype(np.int64)]

    def coverage(self, ids: np.ndarray) -> float:
        """Fraction of ``ids`` the vocabulary predicts as themselves (not as UNK)."""
        ids = ids.astype(np.int64)
        return float(np.mean(self.token_ids[self.index_of[ids]] == ids))
