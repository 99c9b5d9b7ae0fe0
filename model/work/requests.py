"""What the app asks its model thread besides traces: one frozen dataclass per analysis, with
typed fields (no options dicts), handled by one function each (:mod:`model.work.probes`).

Class attributes say how the model thread treats a kind of request:

* ``slot``: its mailbox slot — a newer request of the same class replaces a pending one;
* ``job``: a long job run step by step between traces (progress reported, cancellable);
* ``taught``: its numbers are taught (step-through, DLA, the graph, saliency), so under 8- or
  16-bit weights it runs on float32's products (``TracingModel.exact``).

Every request names the ``text`` it is about, and every result names it back, so whoever
asked can tell whether the result still matches the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

Head = tuple[int, int]


def _heads(heads) -> tuple[Head, ...]:
    return tuple(sorted((int(layer), int(head)) for layer, head in heads))


@dataclass(frozen=True)
class Analysis:
    """The base of every request: ``text`` is the text it is about ("" for none)."""

    text: str = ""
    slot: ClassVar[str] = ""
    job: ClassVar[bool] = False
    taught: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if "heads" in self.__dataclass_fields__:
            object.__setattr__(self, "heads", _heads(self.heads))


@dataclass(frozen=True)
class Lens(Analysis):
    """The logit lens of ``text``, with ``heads`` knocked out (``mode`` "zero" or "mean") and
    the probability and rank of the ``track`` token ids followed."""

    heads: tuple[Head, ...] = ()
    mode: str = "zero"
    track: tuple[int, ...] = ()
    slot: ClassVar[str] = "lens"


@dataclass(frozen=True)
class Ablate(Analysis):
    """Next-token logits after ``position`` with ``heads`` knocked out."""

    heads: tuple[Head, ...] = ()
    mode: str = "zero"
    position: int = -1
    slot: ClassVar[str] = "ablate"


@dataclass(frozen=True)
class Patch(Analysis):
    """``text`` is prompt B; ``source`` is prompt A, whose ``heads``' outputs are patched in."""

    source: str = ""
    heads: tuple[Head, ...] = ()
    slot: ClassVar[str] = "patch"


@dataclass(frozen=True)
class Dla(Analysis):
    """Who wrote ``target``'s logit (default: the top prediction) at ``position``, or the
    contrast target − ``contrast`` (the text of one token)."""

    position: int = -1
    target: int | None = None
    contrast: str = ""
    slot: ClassVar[str] = "dla"
    taught: ClassVar[bool] = True


@dataclass(frozen=True)
class HeadDla(Dla):
    """The heads grid's colours: :class:`Dla` in a slot of its own."""

    slot: ClassVar[str] = "head_dla"


@dataclass(frozen=True)
class Flow(Analysis):
    """The contribution graph of ``text``."""

    slot: ClassVar[str] = "flow"
    taught: ClassVar[bool] = True


@dataclass(frozen=True)
class Block(Analysis):
    """The rest of block ``layer`` after ΔE for token ``query`` (the step-through); ``head``
    is kept for the view, ``target`` a token id (default: the top prediction)."""

    layer: int = 0
    query: int = -1
    head: int | None = None
    target: int | None = None
    slot: ClassVar[str] = "block"
    taught: ClassVar[bool] = True


@dataclass(frozen=True)
class TokenLens(Analysis):
    """Chosen tokens (one or two texts of one token each) followed up the layers at
    ``position``, with the lens's knock-out."""

    tokens: tuple[str, ...] = ()
    position: int = -1
    heads: tuple[Head, ...] = ()
    mode: str = "zero"
    slot: ClassVar[str] = "token_lens"


@dataclass(frozen=True)
class Character(Analysis):
    """Finish the character a sampled byte token (``tokens``) left incomplete."""

    tokens: tuple[int, ...] = ()
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    slot: ClassVar[str] = "character"


@dataclass(frozen=True)
class Exact(Analysis):
    """Float32's trace of ``text`` (the step-through's numbers under 8- or 16-bit weights)."""

    slot: ClassVar[str] = "exact"
    taught: ClassVar[bool] = True


@dataclass(frozen=True)
class Sweep(Analysis):
    """Knock out each head in turn: the change in log p(``token``) at ``position``, ``batch``
    heads per forward pass."""

    position: int = -1
    token: int | None = None
    mode: str = "zero"
    batch: int = 32
    slot: ClassVar[str] = "sweep"
    job: ClassVar[bool] = True


@dataclass(frozen=True)
class Badges(Analysis):
    """Every head's role badge, scored on probe texts."""

    slot: ClassVar[str] = "badges"
    job: ClassVar[bool] = True


@dataclass(frozen=True)
class Saliency(Analysis):
    """Gradient × input and integrated gradients (``steps``) of the target (default: the top
    prediction) minus ``contrast`` at ``position``; ``clear``: switch the shading off."""

    position: int = -1
    target: int | None = None
    contrast: str = ""
    steps: int = 32
    clear: bool = False
    slot: ClassVar[str] = "saliency"
    job: ClassVar[bool] = True
    taught: ClassVar[bool] = True


#: Every kind of request, in the order the model thread takes them.
ANALYSES: tuple[type[Analysis], ...] = (Lens, Ablate, Patch, Dla, HeadDla, Flow, Block, TokenLens, Character,
                                        Exact, Sweep, Badges, Saliency)
