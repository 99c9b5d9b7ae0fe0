"""Nearest neighbours and word analogies in an embedding table, by cosine similarity.

One piece of code serves both the app's embedding panel (:meth:`EmbeddingIndex.nearest`,
:meth:`EmbeddingIndex.solve`) and the model card's evaluation on the Google analogy set
(:mod:`model.training.analogy_eval`): both rank candidates with :func:`analogy_scores`.

For ``a : b :: c : ?`` (``man : king :: woman : ?``), with ``cos`` the cosine similarity:

- **3CosAdd** (Mikolov et al. 2013) answers ``argmax_x cos(x, b - a + c)`` with ``a``,
  ``b`` and ``c`` normalised first; that is ``argmax_x cos(x, b) - cos(x, a) + cos(x, c)``.
- **3CosMul** (Levy & Goldberg 2014) answers
  ``argmax_x cos'(x, b) cos'(x, c) / (cos'(x, a) + eps)`` with ``cos' = (cos + 1) / 2``
  (shifted into ``[0, 1]``) and ``eps = 1e-3``.

In both, ``a``, ``b`` and ``c`` themselves are excluded from the answers, as in the
original evaluations (without the exclusion the answer is very often ``b`` or ``c``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "EmbeddingIndex",
    "Neighbour",
    "UnknownWordError",
    "analogy_scores",
    "check_method",
]

Method = Literal["add", "mul"]
METHODS: tuple[str, ...] = ("add", "mul")
MUL_EPSILON = 1e-3


class UnknownWordError(KeyError, ValueError):
    """A word is not a single token of the vocabulary (it would be split, or is unknown)."""

    def __init__(self, word: str) -> None:
        self.word = word
        super().__init__(word)

    def __str__(self) -> str:
        return f"{self.word!r} is not a single token in the vocabulary"


@dataclass(frozen=True)
class Neighbour:
    """One answer: the token, its id and its score (a cosine, or the 3CosMul objective)."""

    token: str
    token_id: int
    score: float


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"analogy method must be one of {METHODS}, got {method!r}")


def analogy_scores(cos_a: np.ndarray, cos_b: np.ndarray, cos_c: np.ndarray, method: Method = "add") -> np.ndarray:
    """Score every candidate x for ``a : b :: c : x`` from its cosines with a, b and c.

    Parameters
    ----------
    cos_a, cos_b, cos_c
        Cosine similarities of every candidate with a, b and c: arrays of the same shape,
        e.g. (V,) for one question or (n_questions, V) for a batch.
    method
        ``"add"``: ``cos_b - cos_a + cos_c`` (3CosAdd; equals the dot product with
        ``b - a + c`` for unit vectors). ``"mul"``: 3CosMul with cosines shifted to [0, 1].

    Returns
    -------
    numpy.ndarray
        Scores (higher is better), float32, same shape as the inputs. May reuse
        ``cos_b``'s memory when it is float32.
    """
    check_method(method)
    if method == "add":
        scores = np.subtract(cos_b, cos_a, dtype=np.float32)
        scores += cos_c
        return scores
    scores = np.add(cos_b, 1.0, dtype=np.float32)
    scores *= 0.5
    scores *= (np.asarray(cos_c, dtype=np.float32) + 1.0) * 0.5
    scores /= (np.asarray(cos_a, dtype=np.float32) + 1.0) * 0.5 + MUL_EPSILON
    return scores


class EmbeddingIndex:
    """Cosine-similarity search over the rows of an embedding table.

    Parameters
    ----------
    table
        (V, d) embedding table; row i is token i. Copied once into unit-length float32
        rows (all-zero rows stay zero and have cosine 0 with everything).
    tokens
        The V token strings, in id order. When a string occurs more than once, the first
        id is used to look it up.
    prefer_word_start
        Look a bare word up as its word-start token (" king") when there is one: for
        byte-level BPE vocabularies, where a leading space marks the start of a word.
    """

    def __init__(self, table: np.ndarray, tokens: Sequence[str], prefer_word_start: bool = False) -> None:
        table = np.asarray(table)
        if table.ndim != 2:
            raise ValueError(f"embedding table must be 2-D (V, d), got shape {table.shape}")
        if len(tokens) != table.shape[0]:
            raise ValueError(f"{len(tokens)} tokens for an embedding table of {table.shape[0]} rows")
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        norms = np.linalg.norm(self.table, axis=1, keepdims=True)
        self.normalised = np.divide(
            self.table, norms, out=np.zeros_like(self.table), where=norms > 0
        )
        self.tokens: list[str] = list(tokens)
        self.id_of: dict[str, int] = {}
        for token_id, token in enumerate(self.tokens):
            self.id_of.setdefault(token, token_id)
        if prefer_word_start:
            # Byte-level BPE (GPT-2) has "king" and " king"; the word as it appears inside a
            # sentence is " king", the better-trained row, so a bare "king" means that one.
            for token_id, token in enumerate(self.tokens):
                if len(token) > 1 and token[0] == " " and not token[1].isspace():
                    self.id_of[token[1:]] = self.id_of.get(token, token_id)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: object) -> bool:
        return word in self.id_of

    @property
    def dimension(self) -> int:
        return self.table.shape[1]

    def token_id(self, word: str | int) -> int:
        """The id of ``word``; raises :class:`UnknownWordError` when it is not a single token."""
        if isinstance(word, (int, np.integer)):
            if not 0 <= int(word) < len(self.tokens):
                raise IndexError(f"token id {word} is outside [0, {len(self.tokens)})")
            return int(word)
        try:
            return self.id_of[word]
        except KeyError:
            raise UnknownWordError(word) from None

    def vector(self, word: str | int, normalised: bool = True) -> np.ndarray:
        """The embedding of ``word`` (unit length by default; a copy)."""
        source = self.normalised if normalised else self.table
        return source[self.token_id(word)].copy()

    def cosine(self, a: str | int, b: str | int) -> float:
        """Cosine similarity of two words' embeddings (0 when either is all zeros)."""
        return float(self.normalised[self.token_id(a)] @ self.normalised[self.token_id(b)])

    def dot(self, a: str | int, b: str | int) -> float:
        """Dot product of two words' raw (unnormalised) embeddings."""
        return float(self.table[self.token_id(a)] @ self.table[self.token_id(b)])

    def cosines_to(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of ``vector`` with every row: one matrix-vector product, (V,) float32."""
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dimension,):
            raise ValueError(f"query vector must have shape ({self.dimension},), got {vector.shape}")
        norm = float(np.linalg.norm(vector))
        scores = self.normalised @ vector
        if norm > 0:
            scores /= norm
        return scores

    similarities = cosines_to  # the name used by the first version of this module

    def analogy_vector(self, a: str | int, b: str | int, c: str | int) -> np.ndarray:
        """``b - a + c`` on unit vectors: the 3CosAdd target for ``a : b :: c : ?``."""
        unit_a, unit_b, unit_c = (self.normalised[self.token_id(word)] for word in (a, b, c))
        return unit_b - unit_a + unit_c

    def _excluded_ids(self, exclude: Iterable[str | int]) -> np.ndarray:
        return np.fromiter((self.token_id(word) for word in exclude), dtype=np.int64)

    def _top_k(self, scores: np.ndarray, k: int, excluded: np.ndarray) -> list[Neighbour]:
        """The k best-scoring rows not in ``excluded``, best first (scores is modified)."""
        if excluded.size:
            scores[excluded] = -np.inf
        available = len(scores) - np.unique(excluded).size
        k = max(0, min(int(k), available))
        if k == 0:
            return []
        if k < len(scores):
            best = np.argpartition(-scores, k - 1)[:k]
        else:
            best = np.arange(len(scores))
        # sort by score descending, ties by id, so results are deterministic
        best = best[np.lexsort((best, -scores[best]))]
        return [Neighbour(self.tokens[i], int(i), float(scores[i])) for i in best]

    def nearest(self, vector: np.ndarray, k: int = 10, exclude: Iterable[str | int] = ()) -> list[Neighbour]:
        """The ``k`` rows most cosine-similar to ``vector``, best first.

        Parameters
        ----------
        vector
            (d,) query; its length does not matter.
        k
            Number of neighbours (fewer if the table is smaller).
        exclude
            Words or token ids never to return (e.g. the query word itself).
        """
        return self._top_k(self.cosines_to(vector), k, self._excluded_ids(exclude))

    def nearest_to_word(self, word: str | int, k: int = 10) -> list[Neighbour]:
        """The ``k`` nearest neighbours of a word, excluding the word itself."""
        return self.nearest(self.normalised[self.token_id(word)], k, exclude=(word,))

    def solve(
        self,
        a: str | int,
        b: str | int,
        c: str | int,
        k: int = 10,
        method: Method = "add",
        exclude_inputs: bool = True,
    ) -> list[Neighbour]:
        """Answers to ``a : b :: c : ?``, best first.

        Parameters
        ----------
        a, b, c
            Words (single tokens) or token ids; ``man, king, woman`` asks for the word that
            is to ``woman`` what ``king`` is to ``man``.
        k
            Number of answers.
        method
            ``"add"`` (3CosAdd; the score is ``cos(x, b - a + c)``) or ``"mul"`` (3CosMul;
            the score is the 3CosMul objective).
        exclude_inputs
            Leave ``a``, ``b`` and ``c`` out of the answers (the standard protocol). Turning
            it off shows how often the "analogy" is just the nearest input word.

        Raises
        ------
        UnknownWordError
            When a word is not a single token (a ``KeyError`` and a ``ValueError``).
        """
        check_method(method)
        ids = [self.token_id(word) for word in (a, b, c)]
        cos_a, cos_b, cos_c = (self.normalised @ self.normalised[i] for i in ids)
        scores = analogy_scores(cos_a, cos_b, cos_c, method)
        if method == "add":
            norm = float(np.linalg.norm(self.analogy_vector(*ids)))
            if norm > 0:
                scores /= norm  # a true cosine with b - a + c; the ranking is unchanged
        excluded = np.array(ids if exclude_inputs else [], dtype=np.int64)
        return self._top_k(scores, k, excluded)
