"""Direct logit attribution: who wrote the answer.

The residual stream at the last block's output is a sum of parts, each written by one
component: the token embedding (with its position), every head's output z_h W_O^h, each
layer's attention output bias, every MLP. The final normalisation and the unembedding then
turn it into the target token's logit. With the normalisation's scale **frozen at the value
the forward pass used** (the TransformerLens convention), that map is linear, and each part's
share of the logit is its dot product with one direction:

    LayerNorm:  logit_t = Σ_c (c − mean(c)) · (γ ⊙ w_t) / σ  +  β · w_t + b_t
    RMSNorm:    logit_t = Σ_c c · (γ ⊙ w_t) / rms                +  b_t

where σ = sqrt(var(x) + ε) (rms = sqrt(mean(x²) + ε)) of the final residual x, w_t is the
target's unembedding row and b_t its bias. The last term ("final": the norm's shift and the
unembedding bias) belongs to no block. The parts sum to the logit exactly (up to float32
rounding in the trace); a contrast A − B uses w_A − w_B and b_A − b_B.

What "logit" means per output layer: a linear unembedding's logit; for the bundled model's
tied adaptive softmax, the linear score the softmaxes start from (a shortlist token's head
score, or a tail token's cluster score plus its score within the cluster).

Post-norm encoders (BERT, MiniLM) are refused (:func:`unavailable_reason`). Each of their
blocks ends in LayerNorm(x + f(x)), which re-centres and divides by its σ everything written
before it, so the last residual vector is not a sum of the components' outputs. Freezing every
later norm's σ would make it one again (a component's share multiplied through each later
norm's γ/σ, each norm's β a part of its own), but that answers a question about a chain of
rescalings, not about what each head wrote; and these encoders carry no LM head here, so there
is no logit to split at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.analysis.tokens import single_token  # noqa: F401 (its home was here; callers import it from dla)
from model.core.trace import Trace
from model.core.transformer import RMSNorm, TiedAdaptiveSoftmax, Transformer

COMPONENTS = ("embed", "head", "attn_bias", "mlp", "final")
#: The long-form table's columns (:meth:`Attribution.rows`), as the CSV export writes them.
CSV_COLUMNS = ("layer", "component", "head", "contribution")

POST_NORM_REASON = (
    "this model normalises after every block (post-norm, as BERT does): each block's LayerNorm "
    "re-centres and rescales everything written before it, so its output is not a sum of what each "
    "head and MLP wrote, and there is no single final normalisation to freeze"
)


def unavailable_reason(cfg) -> str | None:
    """Why direct attribution cannot be computed for a model of config ``cfg``, in one
    sentence, or None when it can. A post-norm encoder (BERT, MiniLM) is refused: see
    :data:`POST_NORM_REASON`; so is a model without an LM head (there is no logit) and one
    whose adaptive softmax narrows its tail tokens' vectors (not linear in the residual)."""
    if not cfg.has_lm_head:
        reason = f"{cfg.name} has no language-model head: it predicts no tokens, so no logit to attribute"
        return reason + (f"; and {POST_NORM_REASON}" if cfg.norm_placement == "post" else "")
    if cfg.norm_placement == "post":
        return POST_NORM_REASON[0].upper() + POST_NORM_REASON[1:]
    if getattr(cfg, "final_softcap", None) is not None:
        return ("this model soft-caps its logits (c · tanh(logit / c), Gemma 2): a logit is not the sum of "
                "what each part adds, so direct attribution is not defined")
    if cfg.adaptive_cutoffs is not None and not cfg.adaptive_tied:
        return "this model's adaptive softmax narrows its tail tokens' vectors: direct attribution is not defined"
    return None


@dataclass(frozen=True, eq=False)
class Attribution:
    """Each component's direct contribution to the target's logit (or A − B) at ``position``.

    ``heads`` (L, H), ``attn_bias`` (L,), ``mlp`` (L,); ``embed`` and ``final`` scalars.
    ``logit``: the target's logit (or the difference) from the final residual through the
    model's own final norm and unembedding; the parts sum to it. ``scale``: the frozen σ
    (LayerNorm) or rms (RMSNorm) of the final residual (1 without a final norm).
    """

    position: int
    target: int
    contrast: int | None
    embed: float
    heads: np.ndarray
    attn_bias: np.ndarray
    mlp: np.ndarray
    final: float
    logit: float
    norm: str
    scale: float

    def __post_init__(self) -> None:
        for array in (self.heads, self.attn_bias, self.mlp):
            array.setflags(write=False)

    @property
    def grid(self) -> np.ndarray:
        """(L, H + 1): every head's contribution, then the layer's MLP, per layer (the heat map)."""
        return np.concatenate([self.heads, self.mlp[:, None]], axis=1)

    @property
    def total(self) -> float:
        return float(self.embed + self.heads.sum() + self.attn_bias.sum() + self.mlp.sum() + self.final)

    def rows(self) -> list[tuple[int, str, int | None, float]]:
        """(layer, component, head, contribution): layer −1 for embed and final, head None
        except for heads. The rows sum to :attr:`logit`."""
        L, H = self.heads.shape
        out: list[tuple[int, str, int | None, float]] = [(-1, "embed", None, float(self.embed))]
        for layer in range(L):
            out += [(layer, "head", h, float(self.heads[layer, h])) for h in range(H)]
            out.append((layer, "attn_bias", None, float(self.attn_bias[layer])))
            out.append((layer, "mlp", None, float(self.mlp[layer])))
        out.append((-1, "final", None, float(self.final)))
        return out

    def top(self, n: int = 10) -> list[tuple[int, str, int | None, float]]:
        """The ``n`` rows with the largest contributions by size."""
        return sorted(self.rows(), key=lambda r: -abs(r[3]))[:n]


def unembedding_direction(module: Transformer, token: int) -> tuple[np.ndarray, float]:
    """(w_t (d,), b_t): token ``token``'s logit is ``w_t · h + b_t`` for the final-normed
    residual h. Raises ValueError for a token the model cannot predict or an output layer
    whose logits are not linear in h."""
    head = module.unembed
    cfg = module.cfg
    if head is None:
        raise ValueError(f"{cfg.name} has no language-model head: it predicts no tokens")
    out_ids = cfg.output_token_ids
    if out_ids is None:
        index = int(token)
        if not 0 <= index < cfg.n_outputs:
            raise ValueError(f"token id {token} is outside the vocabulary")
    else:
        matches = np.flatnonzero(np.asarray(out_ids) == int(token))
        if not len(matches):
            raise ValueError(f"token id {token} is not in this model's output vocabulary: it cannot be predicted")
        index = int(matches[0])
    with torch.no_grad():
        if isinstance(head, TiedAdaptiveSoftmax):
            table = module.output_table()
            cluster = int(np.searchsorted(head.bounds, index, side="right") - 1)
            w = (table[index].double() @ head.proj[cluster].weight.double())
            b = float(head.bias[index]) if head.bias is not None else 0.0
            if cluster > 0:  # a tail token: its cluster's head score plus its score within the cluster
                w = w + head.cluster.weight[cluster - 1].double()
                b += float(head.cluster.bias[cluster - 1])
            return w.cpu().numpy(), b
        if isinstance(head, nn.AdaptiveLogSoftmaxWithLoss):
            raise ValueError("this model's adaptive softmax narrows its tail tokens' vectors: direct "
                             "attribution is not defined for them")
        weight = getattr(head, "weight", None)
        if weight is None or weight.ndim != 2:
            raise ValueError("this model's output layer is not a linear map: no direct attribution")
        b = float(head.bias[index]) if getattr(head, "bias", None) is not None else 0.0
        return weight[index].double().cpu().numpy(), b


def _final_norm(module: Transformer):
    """(kind, γ, β, ε) of the final normalisation (γ, β float64 arrays or None)."""
    ln = module.ln_f
    if ln is None:
        raise ValueError(POST_NORM_REASON[0].upper() + POST_NORM_REASON[1:])
    if isinstance(ln, nn.LayerNorm):
        gamma = ln.weight.detach().double().cpu().numpy() if ln.weight is not None else None
        beta = ln.bias.detach().double().cpu().numpy() if ln.bias is not None else None
        return "LayerNorm", gamma, beta, float(ln.eps)
    if isinstance(ln, RMSNorm):
        return "RMSNorm", ln.scale().detach().double().cpu().numpy(), None, float(ln.eps)  # g, or 1 + g (Gemma)
    if isinstance(ln, nn.Identity):
        return "none", None, None, 0.0
    raise ValueError(f"final normalisation {type(ln).__name__} is not supported by direct attribution")


def attribute(module: Transformer, trace: Trace, position: int, target: int,
              contrast: int | None = None) -> Attribution:
    """Direct logit attribution of ``target`` (minus ``contrast``) at ``position`` (negative
    counts from the end) of ``trace``, a trace of ``module``. Reuses the trace's per-head
    outputs: no forward pass. Raises ValueError with :func:`unavailable_reason` for a model
    it cannot attribute, or for a target the model cannot predict."""
    reason = unavailable_reason(module.cfg)
    if reason is not None:
        raise ValueError(reason)
    if len(module.blocks) != trace.n_layers or module.cfg.d_model != trace.d_model:
        raise ValueError("the trace belongs to a model of another shape")
    p = position % trace.n_tokens
    w, b = unembedding_direction(module, target)
    if contrast is not None:
        w_b, b_b = unembedding_direction(module, contrast)
        w, b = w - w_b, b - b_b
    kind, gamma, beta, eps = _final_norm(module)
    x = trace.resid_post[-1, p].astype(np.float64)
    if kind == "LayerNorm":
        scale = float(np.sqrt(((x - x.mean()) ** 2).mean() + eps))
    elif kind == "RMSNorm":
        scale = float(np.sqrt((x**2).mean() + eps))
    else:
        scale = 1.0
    v = (gamma * w if gamma is not None else w) / scale
    centre = kind == "LayerNorm"

    def share(parts: np.ndarray) -> np.ndarray:
        parts = parts.astype(np.float64)
        if centre:
            parts = parts - parts.mean(axis=-1, keepdims=True)
        return parts @ v

    L = trace.n_layers
    biases = np.stack([_out_bias(module, layer, trace.resid_post.shape[-1]) for layer in range(L)])
    final = float(b + (beta @ w if beta is not None else 0.0))
    # the logit through the model's own final norm (float32, as the forward pass computes it)
    with torch.no_grad():
        normed = module.ln_f(torch.tensor(trace.resid_post[-1, p]).to(next(module.parameters()).device))
    logit = float(normed.double().cpu().numpy() @ w + b)
    return Attribution(
        position=p, target=int(target), contrast=None if contrast is None else int(contrast),
        embed=float(share(trace.resid_pre[0, p])), heads=share(trace.head_out[:, :, p]),
        attn_bias=share(biases), mlp=share(trace.mlp_out[:, p]), final=final, logit=logit, norm=kind, scale=scale,
    )


def _out_bias(module: Transformer, layer: int, d: int) -> np.ndarray:
    bias = module.blocks[layer].attn.out.bias
    return np.zeros(d) if bias is None else bias.detach().double().cpu().numpy()
