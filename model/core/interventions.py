"""Edits of the heads' outputs that a forward pass is handed: knock-out, patching, reading.

Every edit acts on a layer's z (B, H, T, d_head), each head's attention-weighted values just
before W_O. The forward pass applies them where it computes z
(:meth:`model.core.transformer.Attention.forward`), so the same code serves a trace, a batched
sweep and a patched run, and each head's output ``head_out`` is that of the edited z.

An edit is one of the frozen records below, gathered in an :class:`Interventions` and passed
to :meth:`~model.core.transformer.Transformer.forward` (``interventions=``) or to
:meth:`model.tracer.runner.TracingModel.trace`. :func:`installed` makes them the module's
standing interventions while a ``with`` block lasts, for callers that run the model through
code that does not pass them on (``model.analysis.ablation.knocked_out``).

Incremental tracing (:mod:`model.core.incremental`) reuses the rows of a causal model's earlier
tokens. That is sound under an edit only when each position's z is edited on its own, so
that the row of token t still depends on tokens 0..t alone, and then only rows traced under
the *same* edit may be reused. :attr:`Interventions.rows_key` names that edit (``()`` for
none); None means a trace under it must be a full pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import torch

Head = tuple[int, int]  # (layer, head)
ZFn = Callable[[torch.Tensor], torch.Tensor]  # z (B, H, T, dh) -> z
ABLATION_MODES = ("zero", "mean")


class ZEdit(Protocol):
    """What every edit offers the forward pass."""

    @property
    def layers(self) -> Iterable[int]:
        """The layers whose z it edits."""

    @property
    def rows_key(self) -> tuple | None:
        """A key for the rows incremental tracing may reuse under this edit, or None."""

    def apply(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Layer ``layer``'s z (B, H, T, dh), edited."""


def check_heads(heads: Iterable[Head], n_layers: int, n_heads: int) -> None:
    for layer, head in heads:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(f"head {layer}.{head} is not in a model of {n_layers} layers × {n_heads} heads")


@dataclass(frozen=True, eq=False)
class HeadAblation:
    """Heads knocked out: their z zeroed (``"zero"``), or replaced at every position by their
    reference mean z (``"mean"``; ``means`` (L, H, dh), see
    :func:`model.analysis.ablation.reference_z_means`).

    ``keep[layer]`` is (B or 1, H): 1 keeps a head, 0 knocks it out, per batch row (a sweep
    knocks out another head in each row) or the same in every row (one row).
    """

    keep: Mapping[int, torch.Tensor]
    mode: str = "zero"
    means: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.mode not in ABLATION_MODES:
            raise ValueError(f"ablation mode must be one of {ABLATION_MODES}, got {self.mode!r}")
        if self.mode == "mean" and self.means is None:
            raise ValueError("mean ablation needs the heads' reference means (see reference_z_means)")

    @classmethod
    def of(cls, heads: Iterable[Head], n_layers: int, n_heads: int, mode: str = "zero",
           means: torch.Tensor | None = None) -> HeadAblation:
        """``heads`` knocked out in every batch row."""
        heads = list(heads)
        check_heads(heads, n_layers, n_heads)
        keep: dict[int, torch.Tensor] = {}
        for layer, head in heads:
            keep.setdefault(layer, torch.ones(1, n_heads))[0, head] = 0
        return cls(dict(sorted(keep.items())), mode, means)

    @classmethod
    def one_per_row(cls, rows: Sequence[Head], n_heads: int, mode: str = "zero",
                    means: torch.Tensor | None = None) -> HeadAblation:
        """Batch row r knocks out head ``rows[r]`` alone (a sweep)."""
        keep: dict[int, torch.Tensor] = {}
        for row, (layer, head) in enumerate(rows):
            keep.setdefault(layer, torch.ones(len(rows), n_heads))[row, head] = 0
        return cls(dict(sorted(keep.items())), mode, means)

    @property
    def layers(self) -> Iterable[int]:
        return self.keep.keys()

    @property
    def rows_key(self) -> tuple | None:
        """One ``(layer, knocked-out heads, mode)`` per layer when every row knocks out the same
        heads; None for a batch of different knock-outs. Zero and mean both replace each
        position's z on its own, so the rows stay prefix-stable. The key does not name the
        reference means: they are fixed per model and dropped with the remembered rows
        (:meth:`model.tracer.runner.TracingModel.forget_last_trace`)."""
        if any(k.shape[0] != 1 for k in self.keep.values()):
            return None
        return tuple((layer, tuple(int(h) for h in torch.nonzero(k[0] == 0).flatten()), self.mode)
                     for layer, k in self.keep.items())

    def apply(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        k = self.keep[layer].to(z)[:, :, None, None]  # (B, H, 1, 1)
        if self.mode == "zero":
            return z * k
        return z * k + self.means[layer].to(z)[None, :, None, :] * (1 - k)  # the same at every position


@dataclass(frozen=True, eq=False)
class HeadPatch:
    """Activation patching: ``heads[layer]``'s z replaced by ``source[layer]`` (1, H, T, dh),
    their z in another run of as many tokens (prompt A, patched into B)."""

    source: Mapping[int, torch.Tensor]
    heads: Mapping[int, tuple[int, ...]]
    rows_key = None  # the source is one whole text: a patched trace is a full pass

    @property
    def layers(self) -> Iterable[int]:
        return self.heads.keys()

    def apply(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        chosen = list(self.heads[layer])
        z = z.clone()
        z[:, chosen] = self.source[layer][:, chosen].to(z)
        return z


@dataclass(frozen=True, eq=False)
class ZFunctions:
    """Any function of a layer's z, ``functions[layer]`` (z → z): to read z as it passes, or an
    edit of one's own. The tracer knows nothing of what it does: a full pass (``rows_key``
    None) unless the caller names a key under which rows may be reused."""

    functions: Mapping[int, ZFn]
    rows_key: tuple | None = None

    @property
    def layers(self) -> Iterable[int]:
        return self.functions.keys()

    def apply(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        return self.functions[layer](z)


@dataclass(frozen=True, eq=False)
class Interventions:
    """The edits one forward pass applies, in order (a layer edited twice gets both)."""

    edits: tuple[ZEdit, ...] = ()
    _by_layer: dict[int, tuple[ZEdit, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_layer: dict[int, tuple[ZEdit, ...]] = {}
        for edit in self.edits:
            for layer in edit.layers:
                by_layer[layer] = (*by_layer.get(layer, ()), edit)
        object.__setattr__(self, "_by_layer", by_layer)

    @classmethod
    def of(cls, *edits: ZEdit) -> Interventions:
        return cls(tuple(edits))

    def __bool__(self) -> bool:
        return bool(self.edits)

    def __add__(self, other: Interventions) -> Interventions:
        if not other:
            return self
        if not self:
            return other
        return Interventions(self.edits + other.edits)

    def without(self, edits: Iterable[ZEdit]) -> Interventions:
        """These interventions with ``edits`` (the very objects) left out."""
        gone = {id(e) for e in edits}
        return Interventions(tuple(e for e in self.edits if id(e) not in gone))

    def at(self, layer: int) -> ZFn | None:
        """The edit of layer ``layer``'s z, or None when nothing edits it."""
        edits = self._by_layer.get(layer)
        if not edits:
            return None

        def edit(z: torch.Tensor) -> torch.Tensor:
            for e in edits:
                z = e.apply(layer, z)
            return z

        return edit

    @property
    def rows_key(self) -> tuple | None:
        """``()`` without edits; every edit's key, in order; None if any edit has none."""
        key: list = []
        for edit in self.edits:
            part = edit.rows_key
            if part is None:
                return None
            key.extend(part)
        return tuple(key)


NO_INTERVENTIONS = Interventions()


@contextmanager
def installed(module: torch.nn.Module, *edits: ZEdit) -> Iterator[None]:
    """While inside, ``edits`` are among ``module``'s standing interventions (its
    ``interventions`` attribute, which :meth:`~model.core.transformer.Transformer.forward`
    applies before the ones it is handed). Leaving removes these edits, and only these."""
    module.interventions = module.interventions + Interventions(tuple(edits))
    try:
        yield
    finally:
        module.interventions = module.interventions.without(edits)


__all__ = [
    "ABLATION_MODES", "NO_INTERVENTIONS", "Head", "HeadAblation", "HeadPatch", "Interventions", "ZEdit",
    "ZFn", "ZFunctions", "check_heads", "installed",
]
