"""Finishing a character that a byte-level token left incomplete.

GPT-2-style tokenizers cut an accented letter, an emoji or a Chinese character into tokens
of one to three bytes. When sampling draws such a token, the text cannot show it (half a
character is not text), so a trace of the text cannot show the model what it just drew,
and the next token would be predicted from the wrong input. :func:`finish_character`
goes on sampling from the token ids themselves, on the model thread, until the bytes
make whole characters; the app then appends the finished text in one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model.analysis.ablation import knockout_logits
from model.core.sampling import next_token_distribution
from model.core.tokenizer import append_bytes
from model.tracer.runner import TracingModel

#: A UTF-8 character is at most 4 bytes: after 4 more tokens the bytes are not going to
#: make one, and what is left is shown as U+FFFD (said, not hidden).
MAX_EXTRA_TOKENS = 4


@dataclass(frozen=True, eq=False)
class FinishedCharacter:
    """``text`` followed by the sampled ``tokens`` reads ``new_text`` (whole characters)."""

    text: str
    tokens: tuple[int, ...]
    new_text: str


def next_logits(model: TracingModel, ids: Sequence[int]) -> np.ndarray:
    """Full-vocabulary logits after the token ids ``ids`` (the last ``max_tokens`` of them):
    the prediction of :func:`model.analysis.ablation.knockout_logits` with nothing knocked out."""
    return knockout_logits(model.module, list(ids)[-model.max_tokens:], []).astype(np.float64)


def finish_character(model: TracingModel, text: str, tokens: Sequence[int], temperature: float,
                     top_k: int | None = None, top_p: float | None = None, seed: int | None = None
                     ) -> FinishedCharacter:
    """Sample after ``text`` + ``tokens`` (ids already drawn) until the drawn bytes end on
    a character boundary, with the same temperature, top-k and top-p as the first draw."""
    table = model.tokenizer.token_bytes(model.cfg.vocab_size)
    if table is None:
        raise ValueError("finishing a character needs a byte-level tokenizer")
    drawn = [int(t) for t in tokens]
    new_text, tail = text, b""
    for token in drawn:
        new_text, tail = append_bytes(new_text, tail, table[token])
    ids = list(model.encode(text)[0].ids) + drawn
    rng = np.random.default_rng(seed)
    for _ in range(MAX_EXTRA_TOKENS):
        if not tail:
            break
        token = next_token_distribution(next_logits(model, ids), temperature, top_k, top_p).sample(rng)
        drawn.append(token)
        ids.append(token)
        new_text, tail = append_bytes(new_text, tail, table[token])
    if tail:
        new_text += tail.decode("utf-8", errors="replace")
    return FinishedCharacter(text, tuple(drawn), new_text)
