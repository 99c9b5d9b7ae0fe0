"""Count-based baselines for the model card's held-out perplexity: unigram and Kneser-Ney trigram.

Both models predict token ids in ``[0, V)`` and give every one of them a nonzero
probability, so their perplexities are directly comparable with the neural model's on
the same test tokens and the same output vocabulary.

:class:`KneserNeyTrigram` is *interpolated* Kneser-Ney in the formulation of Chen &
Goodman (1998, "An empirical study of smoothing techniques for language modeling",
section 2.7), with one absolute discount per order. With ``c`` the raw counts and
``N1+(• v w)`` the number of distinct words seen before ``v w``::

    P3(w | u v) = max(c(u v w) - D3, 0) / c(u v •)
                  + D3 * N1+(u v •) / c(u v •) * P2(w | v)

    P2(w | v)   = max(N1+(• v w) - D2, 0) / N1+(• v •)
                  + D2 * N1+(v •) / N1+(• v •) * P1(w)        # N1+(v •): w with N1+(• v w) > 0

    P1(w)       = max(N1+(• w) - D1, 0) / N1+(• •)
                  + D1 * |{w : N1+(• w) > 0}| / N1+(• •) * 1 / V

A context never seen at some order backs off entirely to the next lower order
(``P3 = P2`` when ``c(u v •) = 0``; ``P2 = P1`` when ``N1+(• v •) = 0``). Each
discount is ``D = n1 / (n1 + 2 n2)`` from the count-of-counts of the counts that order
actually discounts: raw trigram counts for order 3, continuation counts for orders 2
and 1 (as KenLM does).

Every sequence is padded on the left with two beginning-of-sequence symbols, so its
first token is predicted from the history ``(BOS, BOS)``, its second from
``(BOS, x0)``, and no n-gram crosses a sequence boundary. The BOS symbol is either a
real token (``bos_id``, e.g. an end-of-document token that also gets predicted) or,
when ``bos_id`` is None, a private id ``V`` that is only ever used as history.

N-grams are stored as sorted ``int64`` keys ``(u * B + v) * B + w`` with ``B = V + 1``
and looked up with :func:`numpy.searchsorted`; a fit on 3.5M tokens takes seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KneserNeyTrigram", "UnigramModel", "estimate_discount", "perplexity"]

# keys are (u * B + v) * B + w < B**3, which must fit in int64
_MAX_BASE = 2_000_000


def perplexity(log_probs: np.ndarray) -> float:
    """``exp(-mean(log_probs))`` of natural-log probabilities (one per predicted token)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.size == 0:
        raise ValueError("perplexity of zero tokens is undefined")
    return float(np.exp(-log_probs.mean()))


def estimate_discount(counts: np.ndarray) -> float:
    """Absolute discount ``D = n1 / (n1 + 2 n2)`` from the count-of-counts of ``counts``.

    ``n1`` and ``n2`` are the numbers of n-grams seen exactly once and exactly twice.
    With no singletons the formula gives 0, which would leave no probability for unseen
    events; 0.5 is used instead (also when there are no counts at all).
    """
    counts = np.asarray(counts)
    n1 = int(np.count_nonzero(counts == 1))
    n2 = int(np.count_nonzero(counts == 2))
    if n1 == 0:
        return 0.5
    return n1 / (n1 + 2 * n2)


def _as_token_array(sequence: np.ndarray | Sequence[int], vocab_size: int) -> np.ndarray:
    array = np.asarray(sequence)
    if array.ndim != 1:
        raise ValueError(f"a token sequence must be 1-D, got shape {array.shape}")
    if array.size == 0:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"token ids must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(f"token ids must lie in [0, {vocab_size}), got values in [{low}, {high}]")
    return array


def _check_vocab_size(vocab_size: int) -> int:
    vocab_size = int(vocab_size)
    if vocab_size < 1:
        raise ValueError(f"vocabulary size must be positive, got {vocab_size}")
    return vocab_size


class UnigramModel:
    """Add-k smoothed unigram model over a fixed vocabulary: ``(c(w) + k) / (N + k V)``.

    Parameters
    ----------
    vocab_size
        V; token ids are in ``[0, V)``.
    k
        Pseudo-count added to every token (1.0 is add-one / Laplace smoothing). Must be
        positive so that every token has nonzero probability.
    """

    def __init__(self, vocab_size: int, k: float = 1.0) -> None:
        self.vocab_size = _check_vocab_size(vocab_size)
        if not k > 0:
            raise ValueError(f"the smoothing pseudo-count k must be positive, got {k}")
        self.k = float(k)
        self.counts = np.zeros(self.vocab_size, dtype=np.int64)
        self._log_probs = np.full(self.vocab_size, -np.log(self.vocab_size))

    def fit(self, sequences: Iterable[np.ndarray]) -> UnigramModel:
        """Count tokens (replacing any previous fit); returns ``self``."""
        counts = np.zeros(self.vocab_size, dtype=np.int64)
        for sequence in sequences:
            counts += np.bincount(_as_token_array(sequence, self.vocab_size), minlength=self.vocab_size)
        self.counts = counts
        total = counts.sum() + self.k * self.vocab_size
        self._log_probs = np.log((counts + self.k) / total)
        return self

    def probabilities(self) -> np.ndarray:
        """The distribution over all V tokens (float64, sums to 1)."""
        return np.exp(self._log_probs)

    def next_token_probs(self, history: Sequence[int] = ()) -> np.ndarray:
        """Same as :meth:`probabilities`; the history is ignored (same API as the trigram)."""
        return self.probabilities()

    def log_probs(self, sequence: np.ndarray | Sequence[int]) -> np.ndarray:
        """Natural-log probability of every token of ``sequence`` (float64, same length)."""
        return self._log_probs[_as_token_array(sequence, self.vocab_size)]


@dataclass(frozen=True)
class _ContextTable:
    """Sorted context keys with, per context, the total count and the number of distinct next tokens."""

    keys: np.ndarray  # int64, sorted, unique
    totals: np.ndarray  # float64
    types: np.ndarray  # float64

    @classmethod
    def from_sorted(cls, context_keys: np.ndarray, counts: np.ndarray) -> _ContextTable:
        """Aggregate n-gram ``counts`` whose (already sorted) context keys are ``context_keys``."""
        if context_keys.size == 0:
            empty = np.zeros(0)
            return cls(np.zeros(0, dtype=np.int64), empty, empty)
        starts = np.flatnonzero(np.r_[True, context_keys[1:] != context_keys[:-1]])
        totals = np.add.reduceat(counts, starts).astype(np.float64)
        types = np.diff(np.r_[starts, context_keys.size]).astype(np.float64)
        return cls(context_keys[starts], totals, types)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(totals, types) for each key, zero for contexts never seen."""
        return _lookup(self.keys, (self.totals, self.types), keys)


def _lookup(sorted_keys: np.ndarray, values: tuple[np.ndarray, ...], keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Values stored at ``keys`` in ``sorted_keys`` (0.0 where a key is absent)."""
    if sorted_keys.size == 0:
        return tuple(np.zeros(keys.shape) for _ in values)
    position = np.searchsorted(sorted_keys, keys)
    position = np.minimum(position, sorted_keys.size - 1)
    found = sorted_keys[position] == keys
    return tuple(np.where(found, value[position], 0.0) for value in values)


class KneserNeyTrigram:
    """Interpolated Kneser-Ney trigram model (Chen & Goodman 1998) over token ids ``[0, V)``.

    Parameters
    ----------
    vocab_size
        V; every id in ``[0, V)`` gets a nonzero probability in every context.
    bos_id
        Token used to pad each sequence on the left (twice). A real vocabulary id (for
        example the end-of-document token, which then also gets predicted), or None to
        use a private symbol that is never predicted.
    discounts
        Override for ``(D1, D2, D3)``, the discounts of the unigram, bigram and trigram
        levels, each in ``(0, 1]``. By default each is estimated at fit time as
        ``n1 / (n1 + 2 n2)``.

    Attributes
    ----------
    discounts
        ``(D1, D2, D3)`` actually used (available after :meth:`fit`).
    """

    def __init__(
        self,
        vocab_size: int,
        bos_id: int | None = None,
        discounts: Sequence[float] | None = None,
    ) -> None:
        self.vocab_size = _check_vocab_size(vocab_size)
        if self.vocab_size + 1 > _MAX_BASE:
            raise ValueError(f"vocabulary of {self.vocab_size} is too large for int64 trigram keys")
        if bos_id is not None and not 0 <= int(bos_id) < self.vocab_size:
            raise ValueError(f"bos_id must be a token id in [0, {self.vocab_size}) or None, got {bos_id}")
        self.bos_id = None if bos_id is None else int(bos_id)
        self._bos = self.vocab_size if bos_id is None else int(bos_id)
        self._base = self.vocab_size + 1
        if discounts is not None:
            discounts = tuple(float(d) for d in discounts)
            if len(discounts) != 3 or not all(0 < d <= 1 for d in discounts):
                raise ValueError(f"discounts must be three numbers (D1, D2, D3) in (0, 1], got {discounts}")
        self._discount_override = discounts
        self.discounts: tuple[float, float, float] = discounts or (0.5, 0.5, 0.5)
        self._fit_empty()

    # ------------------------------------------------------------------ fitting
    def _fit_empty(self) -> None:
        empty_keys = np.zeros(0, dtype=np.int64)
        self.trigram_keys, self.trigram_counts = empty_keys, np.zeros(0)
        self.bigram_keys, self.bigram_continuation = empty_keys, np.zeros(0)
        self._trigram_contexts = _ContextTable.from_sorted(empty_keys, np.zeros(0))
        self._bigram_contexts = _ContextTable.from_sorted(empty_keys, np.zeros(0))
        self.unigram_continuation = np.zeros(self.vocab_size, dtype=np.int64)
        self.unigram_probs = np.full(self.vocab_size, 1.0 / self.vocab_size)

    def _padded_trigrams(self, sequences: Iterable[np.ndarray | Sequence[int]]) -> tuple[np.ndarray, ...]:
        """(u, v, w) int64 arrays of every trigram of the BOS-padded sequences."""
        pieces: list[np.ndarray] = []
        pad = np.array([self._bos, self._bos], dtype=np.int64)
        for sequence in sequences:
            tokens = _as_token_array(sequence, self.vocab_size)
            if tokens.size:
                pieces.extend((pad, tokens))
        if not pieces:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        stream = np.concatenate(pieces)
        is_target = np.ones(stream.size, dtype=bool)
        # every piece of length 2 at an even list position is padding
        lengths = np.array([piece.size for piece in pieces])
        pad_starts = np.cumsum(np.r_[0, lengths[:-1]])[0::2]
        is_target[pad_starts] = False
        is_target[pad_starts + 1] = False
        targets = np.flatnonzero(is_target)
        return stream[targets - 2], stream[targets - 1], stream[targets]

    def fit(self, sequences: Iterable[np.ndarray | Sequence[int]]) -> KneserNeyTrigram:
        """Count trigrams and continuation counts (replacing any previous fit); returns ``self``.

        Parameters
        ----------
        sequences
            Documents, each a 1-D integer array of token ids in ``[0, V)``. N-grams do not
            cross document boundaries.
        """
        u, v, w = self._padded_trigrams(sequences)
        if w.size == 0:
            self._fit_empty()
            return self
        B = self._base
        trigram_keys, trigram_counts = np.unique((u * B + v) * B + w, return_counts=True)
        del u, v, w
        # trigram contexts (u v): keys are sorted, so their contexts are too
        self._trigram_contexts = _ContextTable.from_sorted(trigram_keys // B, trigram_counts)

        # N1+(• v w): each distinct trigram adds one left extension to its bigram suffix
        bigram_keys, bigram_continuation = np.unique(trigram_keys % (B * B), return_counts=True)
        self._bigram_contexts = _ContextTable.from_sorted(bigram_keys // B, bigram_continuation)

        # N1+(• w): each distinct bigram adds one left extension to its last token
        unigram_continuation = np.bincount(bigram_keys % B, minlength=B)[: self.vocab_size]

        if self._discount_override is None:
            self.discounts = (
                estimate_discount(unigram_continuation[unigram_continuation > 0]),
                estimate_discount(bigram_continuation),
                estimate_discount(trigram_counts),
            )
        d1 = self.discounts[0]
        distinct_bigrams = float(bigram_keys.size)
        seen_types = float(np.count_nonzero(unigram_continuation))
        self.unigram_probs = (
            np.maximum(unigram_continuation - d1, 0.0) / distinct_bigrams
            + d1 * seen_types / distinct_bigrams / self.vocab_size
        )
        self.trigram_keys, self.trigram_counts = trigram_keys, trigram_counts.astype(np.float64)
        self.bigram_keys, self.bigram_continuation = bigram_keys, bigram_continuation.astype(np.float64)
        self.unigram_continuation = unigram_continuation
        return self

    # ------------------------------------------------------------------ scoring
    def _probs(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """P(w | u v) for broadcastable int64 arrays (u, v may be the BOS symbol)."""
        d1, d2, d3 = self.discounts
        del d1  # already folded into unigram_probs
        B = self._base
        u, v, w = np.broadcast_arrays(u, v, w)
        p1 = self.unigram_probs[w]

        (continuation,) = _lookup(self.bigram_keys, (self.bigram_continuation,), v * B + w)
        bigram_total, bigram_types = self._bigram_contexts.lookup(v)
        seen = bigram_total > 0
        safe_total = np.where(seen, bigram_total, 1.0)
        p2 = np.where(
            seen,
            np.maximum(continuation - d2, 0.0) / safe_total + d2 * bigram_types / safe_total * p1,
            p1,
        )

        context = u * B + v
        (count,) = _lookup(self.trigram_keys, (self.trigram_counts,), context * B + w)
        trigram_total, trigram_types = self._trigram_contexts.lookup(context)
        seen = trigram_total > 0
        safe_total = np.where(seen, trigram_total, 1.0)
        return np.where(
            seen,
            np.maximum(count - d3, 0.0) / safe_total + d3 * trigram_types / safe_total * p2,
            p2,
        )

    def log_probs(self, sequence: np.ndarray | Sequence[int]) -> np.ndarray:
        """Natural-log probability of each token given its (BOS-padded) two-token history.

        Returns a float64 array of the same length as ``sequence``; the first token is
        scored given ``(BOS, BOS)``, the second given ``(BOS, x0)``.
        """
        tokens = _as_token_array(sequence, self.vocab_size)
        padded = np.r_[self._bos, self._bos, tokens].astype(np.int64)
        probs = np.empty(tokens.size)
        chunk = 1 << 20  # bounds the temporaries for very long sequences
        for start in range(0, tokens.size, chunk):
            stop = min(start + chunk, tokens.size)
            probs[start:stop] = self._probs(padded[start:stop], padded[start + 1 : stop + 1], tokens[start:stop])
        return np.log(probs)

    def next_token_probs(self, history: Sequence[int] = ()) -> np.ndarray:
        """The distribution over all V next tokens after ``history`` (its last two tokens count).

        A history shorter than two tokens is treated as the start of a sequence (padded
        with BOS), exactly as in :meth:`log_probs`.
        """
        tokens = _as_token_array(np.asarray(history, dtype=np.int64), self.vocab_size)[-2:]
        padded = np.r_[[self._bos] * (2 - tokens.size), tokens].astype(np.int64)
        every_token = np.arange(self.vocab_size, dtype=np.int64)
        return self._probs(padded[0], padded[1], every_token)
