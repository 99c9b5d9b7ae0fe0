"""Poke heads and watch the prediction move: knock-out (zero or mean ablation), a sweep that
knocks out every head in turn, and activation patching of one head from prompt A into B.

Every edit acts on the heads' outputs z (B, H, T, d_head) just before W_O. Each is an
explicit record handed to the forward pass (:mod:`model.core.interventions`:
:class:`~model.core.interventions.HeadAblation`, :class:`~model.core.interventions.HeadPatch`),
so the same forward pass serves the traced pass, the batched sweep and the patched run.

Knocking a head out removes its ``z @ W_O[h]`` from the residual stream. The output bias
b_O belongs to no head and stays: knocking out every head of a layer leaves that layer's
attention adding b_O only (which is "skipping the attention" for a model without b_O).

Mean ablation replaces the head's z at every position by one fixed vector: its mean over
every position of a fixed set of reference texts (:data:`REFERENCE_TEXTS`, encoded as the
model encodes any text, so with its BOS or [CLS]/[SEP]), computed once per model
(:func:`reference_z_means`; :meth:`model.tracer.runner.TracingModel.reference_means` caches it).
This is the usual definition (TransformerLens, the circuits literature): the head still
adds its typical output, but nothing of this text reaches the rest of the model through
it. A mean over the current text's own positions would not do: in a causal model it would
make an earlier row depend on later tokens (rows the model could not have computed), and
every new token would change every earlier row.

Incremental tracing (:mod:`model.core.incremental`) reuses the rows of a causal model's earlier
tokens. Both knock-outs keep that sound: each position's z is replaced on its own (by zero
or by a constant), so the row of token t still depends only on tokens 0..t, and a
knocked-out trace reuses the rows of the last trace *with the same knock-out*
(:attr:`~model.core.interventions.HeadAblation.rows_key` names it, mode included; never an
ordinary trace's rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from model.core.interventions import (
    ABLATION_MODES,
    NO_INTERVENTIONS,
    Head,
    HeadAblation,
    HeadPatch,
    Interventions,
    ZFunctions,
    check_heads,
    installed,
)
from model.core.transformer import Transformer

#: Heads knocked out per batched forward pass in a sweep (one batch row per head).
SWEEP_BATCH = 32

#: The reference distribution of mean ablation: short, plain English sentences of different
#: shapes (statements, a question, dialogue, numbers), short enough for any context window.
#: A head's mean output over every position of these is what a mean-ablated head adds.
REFERENCE_TEXTS = (
    "The cat sat on the mat.",
    "She walked to the shop and bought some bread.",
    "It was a cold morning in early spring.",
    "The river runs past the old mill towards the sea.",
    "Where did you put the keys?",
    "\"I will be there at ten,\" he said.",
    "They built the bridge in 1932, and it is still in use.",
    "A small boat drifted slowly across the lake.",
)


def parse_heads(text: str) -> tuple[Head, ...]:
    """``"1.2,0.3"`` → ((1, 2), (0, 3)); raises ValueError with a sentence."""
    heads = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        layer, _, head = part.partition(".")
        try:
            heads.append((int(layer), int(head)))
        except ValueError:
            raise ValueError(f"write heads as LAYER.HEAD, e.g. 1.2,0.3; got {part!r}") from None
    return tuple(sorted(set(heads)))


def knockout(module: Transformer, heads: Iterable[Head], mode: str = "zero",
             means: torch.Tensor | None = None) -> Interventions:
    """The interventions that knock ``heads`` out of ``module``: their z zeroed, or in
    ``"mean"`` mode replaced by ``means`` (L, H, dh), the reference means of
    :func:`reference_z_means` (:meth:`model.tracer.runner.TracingModel.reference_means`).
    Hand them to ``module(…, interventions=…)`` or ``TracingModel.trace``."""
    heads = list(heads)
    if not heads:
        return NO_INTERVENTIONS
    cfg = module.cfg
    return Interventions.of(HeadAblation.of(heads, cfg.n_layers, cfg.n_heads, mode, means))


@contextmanager
def knocked_out(module: Transformer, heads: Iterable[Head], mode: str = "zero",
                means: torch.Tensor | None = None) -> Iterator[None]:
    """While inside, every forward pass of ``module`` runs with :func:`knockout`'s
    interventions (installed as the module's standing ones), traces included."""
    with installed(module, *knockout(module, heads, mode, means).edits):
        yield


@contextmanager
def z_edited(module: Transformer, functions: dict[int, object]) -> Iterator[None]:
    """While inside, layer ``layer``'s z (B, H, T, dh) passes through ``functions[layer]``
    in every forward pass of ``module``: an edit the tracer knows nothing of (full passes)."""
    with installed(module, ZFunctions(functions)):
        yield


@torch.inference_mode()
def reference_z_means(module: Transformer, texts: Iterable[Sequence[int]]) -> torch.Tensor:
    """Every head's output z averaged over every position of every text in ``texts`` (token
    ids, as the model encodes them): (L, H, d_head), in the module's dtype and on its device.

    The mean weighs every token alike, BOS/[CLS]/[SEP] included where the model's encoding
    adds them. This is what :func:`knocked_out` in ``"mean"`` mode writes in place of a
    head's z. A causal model runs all texts in one batch, padded at the end (no real row
    sees a padded one; padded rows are left out of the mean): the weights are read once,
    which is most of the cost at GPT-2 sizes. An encoder would attend to padding, so it
    runs one batch per text length. Raises ValueError if interventions are installed on the
    module (they would change the z it averages).
    """
    if module.interventions:
        raise ValueError("reference means need a clean model: compute them outside any knock-out or edit")
    cfg = module.cfg
    param = next(module.parameters())
    texts = [list(ids) for ids in texts if len(ids)]
    if not texts:
        raise ValueError("reference means need at least one token")
    if cfg.causal:
        batches = [texts]
    else:
        by_length: dict[int, list[list[int]]] = {}
        for ids in texts:
            by_length.setdefault(len(ids), []).append(ids)
        batches = list(by_length.values())
    total = torch.zeros(cfg.n_layers, cfg.n_heads, cfg.d_head, dtype=torch.float64, device=param.device)
    rows: dict[str, torch.Tensor] = {}  # "real": (B, T) 1 for a token, 0 for padding

    def adder(layer: int):
        def add(z: torch.Tensor) -> torch.Tensor:  # z (B, H, T, dh), read, not changed
            total[layer] += torch.einsum("bhtd,bt->hd", z.double(), rows["real"])  # (H, dh)
            return z
        return add

    reading = Interventions.of(ZFunctions({layer: adder(layer) for layer in range(cfg.n_layers)}))
    for batch in batches:
        T = max(len(ids) for ids in batch)
        idx = torch.tensor([ids + ids[-1:] * (T - len(ids)) for ids in batch], device=param.device)  # (B, T)
        rows["real"] = (torch.arange(T, device=param.device)[None]
                        < torch.tensor([len(ids) for ids in batch], device=param.device)[:, None]).double()
        module(idx, logit_positions=torch.tensor([0], device=param.device), interventions=reading)
    return (total / sum(len(ids) for ids in texts)).to(param.dtype)


def _start(ids: Sequence[int], resid_pre: np.ndarray | None, layer: int, rows: int = 1):
    """(where to start, the input there): the trace's residual stream entering ``layer``, or
    the token ids from the embedding on."""
    if resid_pre is None:
        return 0, torch.as_tensor([list(ids)], dtype=torch.long).expand(rows, -1)
    x = torch.from_numpy(np.array(resid_pre[layer], dtype=np.float32))[None]  # (1, T, d)
    return layer, x.expand(rows, -1, -1)


def _logits(module: Transformer, start: int, x: torch.Tensor, positions: torch.Tensor,
            interventions: Interventions) -> torch.Tensor:
    """Logits (B, P, n_outputs) at ``positions``, from token ids or from the residual stream
    entering block ``start`` (blocks before the first edited layer cannot change)."""
    if x.dtype == torch.long:
        return module(x, logit_positions=positions, interventions=interventions)
    if module.unembed is None:
        raise ValueError(f"{module.cfg.name} has no language-model head: it predicts no tokens")
    return module.resume(x, start, positions, interventions)


def _full_logprobs(module: Transformer, logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(module.full_vocab_logits(logits).float(), dim=-1)


@torch.inference_mode()
def knockout_logits(
    module: Transformer, ids: Sequence[int], heads: Iterable[Head], position: int = -1, mode: str = "zero",
    resid_pre: np.ndarray | None = None, means: torch.Tensor | None = None,
) -> np.ndarray:
    """Full-vocabulary logits after ``position`` with ``heads`` knocked out: (V,).
    ``resid_pre`` (L, T, d): the clean trace's, to start at the first knocked-out layer;
    ``means``: the reference means, for ``"mean"`` mode (see :func:`knockout`)."""
    heads = list(heads)
    pos = torch.tensor([position % len(ids)])
    start, x = _start(ids, resid_pre, min((h[0] for h in heads), default=0))
    logits = _logits(module, start, x, pos, knockout(module, heads, mode, means))  # (1, 1, n_outputs)
    return module.full_vocab_logits(logits[0, 0]).float().numpy()


@dataclass(frozen=True)
class SweepResult:
    """Each head knocked out alone: the change in log p(``token``) after ``position``."""

    token: int
    position: int
    base_logprob: float
    delta: np.ndarray  # (L, H): log p with the head out − log p with every head in
    mode: str = "zero"


def sweep_steps(
    module: Transformer, ids: Sequence[int], token: int, position: int = -1, mode: str = "zero",
    batch: int = SWEEP_BATCH, resid_pre: np.ndarray | None = None, means: torch.Tensor | None = None,
) -> Iterator[tuple[int, int, SweepResult | None]]:
    """Knock out every head in turn, ``batch`` heads per batched forward pass (one batch
    row per head). With the clean trace's ``resid_pre`` (L, T, d), each layer's heads are
    one batch that starts at that layer, since the layers before it cannot change.
    ``means``: the reference means, for ``"mean"`` mode (see :func:`knockout`).

    Yields ``(done, total, None)`` after each batch and finally ``(total, total, result)``,
    so a caller can report progress and stop between batches.
    """
    cfg = module.cfg
    L, H = cfg.n_layers, cfg.n_heads
    idx = torch.as_tensor([list(ids)], dtype=torch.long)
    T = idx.shape[1]
    position = position % T
    pos = torch.tensor([position])
    heads = [(layer, head) for layer in range(L) for head in range(H)]
    with torch.inference_mode():
        base = _full_logprobs(module, module(idx, logit_positions=pos)[0, 0])[token].item()
    delta = np.zeros((L, H), dtype=np.float64)
    if resid_pre is not None:
        chunks = [heads[layer * H : (layer + 1) * H] for layer in range(L)]
    else:
        chunks = [heads[i : i + batch] for i in range(0, len(heads), batch)]
    done = 0
    for chunk in chunks:
        B = len(chunk)
        each_alone = Interventions.of(HeadAblation.one_per_row(chunk, H, mode, means))  # row r: chunk[r] out
        start, x = _start(ids, resid_pre, chunk[0][0], B)
        with torch.inference_mode():
            logits = _logits(module, start, x, pos, each_alone)[:, 0]  # (B, n_outputs)
            logp = _full_logprobs(module, logits)[:, token]  # (B,)
        for row, (hl, hh) in enumerate(chunk):
            delta[hl, hh] = logp[row].item() - base
        done += B
        yield done, len(heads), None
    yield len(heads), len(heads), SweepResult(int(token), position, float(base), delta, mode)


def sweep(module: Transformer, ids: Sequence[int], token: int, position: int = -1, mode: str = "zero",
          batch: int = SWEEP_BATCH, resid_pre: np.ndarray | None = None,
          means: torch.Tensor | None = None) -> SweepResult:
    """:func:`sweep_steps` run to the end."""
    *_, (_done, _total, result) = sweep_steps(module, ids, token, position, mode, batch, resid_pre, means)
    return result


@torch.inference_mode()
def head_z(module: Transformer, ids: Sequence[int], layer: int) -> torch.Tensor:
    """Every head's z (1, H, T, dh) at ``layer`` for ``ids`` (one pass, after any standing
    interventions of the module)."""
    idx = torch.as_tensor([list(ids)], dtype=torch.long)
    captured: dict[str, torch.Tensor] = {}

    def keep(z: torch.Tensor) -> torch.Tensor:
        captured["z"] = z.clone()
        return z

    reading = Interventions.of(ZFunctions({layer: keep}))
    module(idx, logit_positions=torch.tensor([idx.shape[1] - 1]), interventions=reading)
    return captured["z"]


def patch(module: Transformer, ids_a: Sequence[int], heads: Iterable[Head]) -> Interventions:
    """The interventions that patch ``heads``' outputs z from a run on ``ids_a`` (prompt A)
    into another run of as many tokens."""
    heads = list(heads)
    cfg = module.cfg
    check_heads(heads, cfg.n_layers, cfg.n_heads)
    layers = sorted({h[0] for h in heads})
    chosen = {layer: tuple(hh for hl, hh in heads if hl == layer) for layer in layers}
    return Interventions.of(HeadPatch({layer: head_z(module, ids_a, layer) for layer in layers}, chosen))


@torch.inference_mode()
def patched_logits(
    module: Transformer, ids_a: Sequence[int], ids_b: Sequence[int], heads: Iterable[Head], position: int = -1
) -> np.ndarray:
    """Run B with each of ``heads``' outputs z replaced by its output on A: logits (V,) after
    ``position`` of B. Both texts must have the same number of tokens (positions line up)."""
    if len(ids_a) != len(ids_b):
        raise ValueError(f"patching needs prompts of equal length: A has {len(ids_a)} tokens, B {len(ids_b)}")
    idx = torch.as_tensor([list(ids_b)], dtype=torch.long)
    pos = torch.tensor([position % idx.shape[1]])
    logits = module(idx, logit_positions=pos, interventions=patch(module, ids_a, heads))
    return module.full_vocab_logits(logits[0, 0]).float().numpy()


__all__ = [
    "ABLATION_MODES", "REFERENCE_TEXTS", "SWEEP_BATCH", "Head", "SweepResult", "check_heads", "head_z",
    "knocked_out", "knockout", "knockout_logits", "parse_heads", "patch", "patched_logits", "reference_z_means",
    "sweep", "sweep_steps", "z_edited",
]
