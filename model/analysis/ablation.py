"""Poke heads and watch the prediction move: knock-out (zero or mean ablation), a sweep that
knocks out every head in turn, and activation patching of one head from prompt A into B.

Every edit acts on the heads' outputs z (B, H, T, d_head) just before W_O, through a forward
pre-hook on each layer's ``attn.out`` projection: the forward pass itself is not changed, so
the same code serves the traced pass, the batched sweep and the patched run.

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
knocked-out trace reuses the rows of the last trace *with the same knock-out* (:func:`hooks_key`
names it, mode included; never an ordinary trace's rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from model.core.transformer import Transformer

Head = tuple[int, int]
ABLATION_MODES = ("zero", "mean")
#: Heads knocked out per batched forward pass in a sweep (one batch row per head).
SWEEP_BATCH = 32

ZHook = Callable[[torch.Tensor], torch.Tensor]  # z (B, H, T, dh) -> z

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


def check_heads(heads: Iterable[Head], n_layers: int, n_heads: int) -> None:
    for layer, head in heads:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(f"head {layer}.{head} is not in a model of {n_layers} layers × {n_heads} heads")


@contextmanager
def z_hooks(module: Transformer, hooks: dict[int, ZHook]) -> Iterator[None]:
    """Apply ``hooks[layer]`` to that layer's z (B, H, T, dh) before W_O while inside."""
    handles = []
    try:
        for layer, fn in hooks.items():
            attn = module.blocks[layer].attn
            nh, hs = attn.n_heads, attn.d_head

            def pre_hook(_mod, args, fn=fn, nh=nh, hs=hs):
                (x,) = args  # (B, T, nh·hs): z with its heads side by side
                B, T, _ = x.shape
                z = x.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
                z = fn(z)
                return (z.transpose(1, 2).reshape(B, T, nh * hs),)

            if getattr(fn, "rows_key", None) is not None:  # prefix-stable: see hooks_key
                pre_hook.rows_key = (layer, *fn.rows_key)
            handles.append(attn.out.register_forward_pre_hook(pre_hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _has_hooks(module: torch.nn.Module) -> bool:
    return any(sub._forward_pre_hooks or sub._forward_hooks for sub in module.modules())


@torch.inference_mode()
def reference_z_means(module: Transformer, texts: Iterable[Sequence[int]]) -> torch.Tensor:
    """Every head's output z averaged over every position of every text in ``texts`` (token
    ids, as the model encodes them): (L, H, d_head), in the module's dtype and on its device.

    The mean weighs every token alike, BOS/[CLS]/[SEP] included where the model's encoding
    adds them. This is what :func:`knocked_out` in ``"mean"`` mode writes in place of a
    head's z. A causal model runs all texts in one batch, padded at the end (no real row
    sees a padded one; padded rows are left out of the mean): the weights are read once,
    which is most of the cost at GPT-2 sizes. An encoder would attend to padding, so it
    runs one batch per text length. Raises ValueError if hooks are on the module (they
    would change the z it averages).
    """
    if _has_hooks(module):
        raise ValueError("reference means need a clean model: compute them outside any knock-out or hook")
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

    def adder(layer: int) -> ZHook:
        def add(z: torch.Tensor) -> torch.Tensor:  # z (B, H, T, dh)
            total[layer] += torch.einsum("bhtd,bt->hd", z.double(), rows["real"])  # (H, dh)
            return z
        return add

    with z_hooks(module, {layer: adder(layer) for layer in range(cfg.n_layers)}):
        for batch in batches:
            T = max(len(ids) for ids in batch)
            idx = torch.tensor([ids + ids[-1:] * (T - len(ids)) for ids in batch], device=param.device)  # (B, T)
            rows["real"] = (torch.arange(T, device=param.device)[None]
                            < torch.tensor([len(ids) for ids in batch], device=param.device)[:, None]).double()
            module(idx, logit_positions=torch.tensor([0], device=param.device))
    return (total / sum(len(ids) for ids in texts)).to(param.dtype)


def _knockout_fn(keep: torch.Tensor, mode: str, mean: torch.Tensor | None = None) -> ZHook:
    """``keep`` (B or 1, H): 1 keeps a head, 0 knocks it out; ``mean`` (H, dh): this layer's
    reference means (:func:`reference_z_means`), needed in ``"mean"`` mode."""
    if mode not in ABLATION_MODES:
        raise ValueError(f"ablation mode must be one of {ABLATION_MODES}, got {mode!r}")
    if mode == "mean" and mean is None:
        raise ValueError("mean ablation needs the heads' reference means (see reference_z_means)")

    def fn(z: torch.Tensor) -> torch.Tensor:
        k = keep.to(z.dtype)[:, :, None, None]  # (B, H, 1, 1)
        if mode == "zero":
            return z * k
        return z * k + mean.to(z)[None, :, None, :] * (1 - k)  # (1, H, 1, dh): the same at every position

    if keep.shape[0] == 1:  # each position's z on its own (zeroed, or a constant): prefix-stable
        fn.rows_key = (tuple(int(h) for h in torch.nonzero(keep[0] == 0).flatten()), mode)
    return fn


def hooks_key(module: torch.nn.Module) -> tuple | None:
    """What the forward hooks on ``module`` and its submodules change, as a key for the rows
    incremental tracing may reuse (:mod:`model.core.incremental`): ``()`` without hooks; one
    ``(layer, knocked-out heads, mode)`` per knock-out of :func:`knocked_out` (zero or mean:
    both replace each position's z on its own, so every row still depends on the tokens up
    to it only); None for any other hook (patching, a caller's own hook), under which a
    trace must be a full pass.

    The key does not name the reference means of a mean knock-out: they are fixed per model
    (:meth:`model.tracer.runner.TracingModel.reference_means`), and dropped together with the
    remembered rows when the weights change."""
    key = []
    for sub in module.modules():
        if not (sub._forward_pre_hooks or sub._forward_hooks):  # once per trace: keep it cheap
            continue
        for hook in (*sub._forward_pre_hooks.values(), *sub._forward_hooks.values()):
            tag = getattr(hook, "rows_key", None)
            if tag is None:
                return None
            key.append(tag)
    return tuple(key)


def _layer_means(means: torch.Tensor | None, layer: int) -> torch.Tensor | None:
    return None if means is None else means[layer]


def knockout_hooks(heads: Iterable[Head], n_layers: int, n_heads: int, mode: str = "zero",
                   means: torch.Tensor | None = None) -> dict[int, ZHook]:
    """Hooks that knock ``heads`` out (the same heads in every batch row). ``means``
    (L, H, dh): the reference means of :func:`reference_z_means`, for ``"mean"`` mode."""
    heads = list(heads)
    check_heads(heads, n_layers, n_heads)
    hooks = {}
    for layer in sorted({h[0] for h in heads}):
        keep = torch.ones(1, n_heads)
        for hl, hh in heads:
            if hl == layer:
                keep[0, hh] = 0
        hooks[layer] = _knockout_fn(keep, mode, _layer_means(means, layer))
    return hooks


@contextmanager
def knocked_out(module: Transformer, heads: Iterable[Head], mode: str = "zero",
                means: torch.Tensor | None = None) -> Iterator[None]:
    """While inside, every forward pass of ``module`` runs with ``heads`` knocked out: their
    z zeroed, or in ``"mean"`` mode replaced by ``means`` (L, H, dh), the reference means of
    :func:`reference_z_means` (:meth:`model.tracer.runner.TracingModel.reference_means`)."""
    cfg = module.cfg
    with z_hooks(module, knockout_hooks(heads, cfg.n_layers, cfg.n_heads, mode, means)):
        yield


def _from_layer(module: Transformer, x: torch.Tensor, start: int, positions: torch.Tensor) -> torch.Tensor:
    """Run blocks ``start``… on the residual stream ``x`` (B, T, d) entering block ``start``;
    logits (B, P, n_outputs) at ``positions``. Blocks before the first edited layer cannot
    change, so a knock-out starts from the trace's ``resid_pre`` there."""
    T = x.shape[1]
    rope = module.rope(T) if module.rope is not None else None
    for block in module.blocks[start:]:
        x = block(x, None, rope)
    final = module.ln_f(x) if module.ln_f is not None else x
    return module.unembed_logits(final[:, positions])


def _start(ids: Sequence[int], resid_pre: np.ndarray | None, layer: int, rows: int = 1):
    """(where to start, the input there): the trace's residual stream entering ``layer``, or
    the token ids from the embedding on."""
    if resid_pre is None:
        return 0, torch.as_tensor([list(ids)], dtype=torch.long).expand(rows, -1)
    x = torch.from_numpy(np.array(resid_pre[layer], dtype=np.float32))[None]  # (1, T, d)
    return layer, x.expand(rows, -1, -1)


def _logits(module: Transformer, start: int, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.long:
        return module(x, logit_positions=positions)
    return _from_layer(module, x, start, positions)


def _full_logprobs(module: Transformer, logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(module.full_vocab_logits(logits).float(), dim=-1)


@torch.inference_mode()
def knockout_logits(
    module: Transformer, ids: Sequence[int], heads: Iterable[Head], position: int = -1, mode: str = "zero",
    resid_pre: np.ndarray | None = None, means: torch.Tensor | None = None,
) -> np.ndarray:
    """Full-vocabulary logits after ``position`` with ``heads`` knocked out: (V,).
    ``resid_pre`` (L, T, d): the clean trace's, to start at the first knocked-out layer;
    ``means``: the reference means, for ``"mean"`` mode (see :func:`knocked_out`)."""
    heads = list(heads)
    pos = torch.tensor([position % len(ids)])
    start, x = _start(ids, resid_pre, min((h[0] for h in heads), default=0))
    with knocked_out(module, heads, mode, means):
        logits = _logits(module, start, x, pos)  # (1, 1, n_outputs)
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
    ``means``: the reference means, for ``"mean"`` mode (see :func:`knocked_out`).

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
        hooks = {}
        for layer in sorted({lh[0] for lh in chunk}):
            keep = torch.ones(B, H)
            for row, (hl, hh) in enumerate(chunk):
                if hl == layer:
                    keep[row, hh] = 0  # batch row `row` knocks out head (hl, hh) only
            hooks[layer] = _knockout_fn(keep, mode, _layer_means(means, layer))
        start, x = _start(ids, resid_pre, chunk[0][0], B)
        with torch.inference_mode(), z_hooks(module, hooks):
            logits = _logits(module, start, x, pos)[:, 0]  # (B, n_outputs)
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
    """Every head's z (1, H, T, dh) at ``layer`` for ``ids`` (one clean pass)."""
    idx = torch.as_tensor([list(ids)], dtype=torch.long)
    captured: dict[str, torch.Tensor] = {}

    def keep(z: torch.Tensor) -> torch.Tensor:
        captured["z"] = z.clone()
        return z

    with z_hooks(module, {layer: keep}):
        module(idx, logit_positions=torch.tensor([idx.shape[1] - 1]))
    return captured["z"]


@torch.inference_mode()
def patched_logits(
    module: Transformer, ids_a: Sequence[int], ids_b: Sequence[int], heads: Iterable[Head], position: int = -1
) -> np.ndarray:
    """Run B with each of ``heads``' outputs z replaced by its output on A: logits (V,) after
    ``position`` of B. Both texts must have the same number of tokens (positions line up)."""
    if len(ids_a) != len(ids_b):
        raise ValueError(f"patching needs prompts of equal length: A has {len(ids_a)} tokens, B {len(ids_b)}")
    heads = list(heads)
    cfg = module.cfg
    check_heads(heads, cfg.n_layers, cfg.n_heads)
    hooks = {}
    for layer in sorted({h[0] for h in heads}):
        source = head_z(module, ids_a, layer)
        chosen = [hh for hl, hh in heads if hl == layer]

        def fn(z: torch.Tensor, source=source, chosen=chosen) -> torch.Tensor:
            z = z.clone()
            z[:, chosen] = source[:, chosen]
            return z

        hooks[layer] = fn
    idx = torch.as_tensor([list(ids_b)], dtype=torch.long)
    pos = torch.tensor([position % idx.shape[1]])
    with z_hooks(module, hooks):
        logits = module(idx, logit_positions=pos)
    return module.full_vocab_logits(logits[0, 0]).float().numpy()
