"""Target tokens typed as text: " Mary", " is", "中".

A target for direct logit attribution, saliency or the logit lens must be one token. A
byte-level tokenizer (GPT-2, SmolLM2) keeps the leading space in the token, so " Mary" (the
word after "to") and "Mary" (at the start of a text) are different tokens; a word-piece
tokenizer (the bundled model, BERT) drops spaces and may lower-case.
"""

from __future__ import annotations

from collections.abc import Sequence


def single_token(tokenizer, text: str, predictable: Sequence[int] | None = None) -> int:
    """The id of ``text`` as one token, or a one-line ValueError that says how the tokenizer
    splits it (special tokens the tokenizer adds, such as BOS or [CLS], are not counted).

    ``tokenizer``: a :class:`~model.core.tokenizer.TextTokenizer`. ``predictable``: the ids
    the model can predict (``ModelConfig.output_token_ids``), when it predicts only some: a
    token outside them is refused too, since it has no logit.
    """
    encoding = tokenizer.encode(text)
    pieces = [(i, s) for i, s, special in zip(encoding.ids, encoding.strings, encoding.special, strict=True)
              if not special]
    if not pieces:
        raise ValueError(f"{text!r} is no token at all for this tokenizer")
    if len(pieces) > 1:
        split = " + ".join(f"{s!r} ({i})" for i, s in pieces)
        raise ValueError(f"{text!r} is not one token: this tokenizer splits it into {len(pieces)}: {split}")
    token, string = int(pieces[0][0]), pieces[0][1]
    if predictable is not None and token not in set(int(t) for t in predictable):
        raise ValueError(f"{text!r} is token {string!r} ({token}), which this model never predicts: it has no logit")
    return token


def whole_character_share(vocabulary: Sequence[str], text: str) -> float:
    """The share of ``text``'s characters (spaces and punctuation aside) that the vocabulary
    holds as whole tokens, alone or after a word-start mark ("我", "▁我", "Ġ我", "##我").

    A model that reads a language has its characters in its vocabulary; one trained on
    English sees Chinese as [UNK] (word pieces) or as byte pieces (byte-level BPE, whose
    vocabulary holds the bytes, not the characters). Pure string work: cheap enough for the
    window to ask once per load.
    """
    letters = [c for c in text if c.isalnum()]
    if not letters:
        return 0.0
    wanted = set(letters)
    found = {t[-1] for t in vocabulary if t and t[-1] in wanted and (len(t) == 1 or t[:-1] in ("▁", "Ġ", "##", " "))}
    return sum(c in found for c in letters) / len(letters)
