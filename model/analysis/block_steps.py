"""The rest of the block after ΔE, for one token, stage by stage, recomputed from a Trace and
the block's own weights (the model is never run), in the order the model computes it.

Pre-norm (GPT-2, the bundled model, Llama, Qwen, Mistral, SmolLM2)::

    x ─ + Σ_h ΔE_h + b_O ─→ x_mid ─ norm₂ ─ up (+ gate) ─ activation ─ down ─ + ─→ x_next
        (attention)                  (the MLP reads the normalised x_mid)      │
                                                                                └ last block:
                                         final norm → unembedding → the next token's logit

Post-norm (BERT, MiniLM): "Add & Norm" after attention and after the MLP::

    x ─ + attention ─ norm₁ ─→ x_mid ─ up ─ activation ─ down ─ + x_mid ─ norm₂ ─→ x_next

Normalisations, with the numbers kept: LayerNorm(x) = (x − μ) / σ ⊙ γ + β with
μ = mean(x), σ² = mean((x − μ)²), σ = sqrt(σ² + ε); RMSNorm(x) = x / rms ⊙ γ with
rms = sqrt(mean(x²) + ε).

MLPs: u = x W_up + b_up, then GELU(u) = u·Φ(u) (or its tanh approximation), ReLU(u), SiLU(u) =
u·σ(u); a gated MLP computes g = x W_gate + b_gate too and passes act(g) ⊙ u (SwiGLU with
SiLU, GeGLU with GELU); h = that hidden vector, out = h W_down + b_down. Neuron n writes
h_n · W_down[n] into the residual stream; the ten with the largest |h_n| are listed.

Every vector is computed in float64 from the trace's float32 residual stream and head outputs
and the weights as float32 (a bfloat16 model's rounded weights); :attr:`BlockSteps.checks`
holds the relative difference of each recomputed vector from what the forward pass captured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from model.core.trace import Trace

if TYPE_CHECKING:  # torch is imported where it is used: a view may import the results before torch loads
    import torch
    from torch import nn

    from model.core.transformer import Transformer

#: How many neurons :func:`block_steps` lists as the most active.
TOP_NEURONS = 10
#: How many next tokens the output stage lists.
TOP_TOKENS = 10

_PLAIN = {"gelu": "GELU", "gelu_tanh": "GELU (tanh)", "relu": "ReLU", "silu": "SiLU"}
_GATED = {"gelu": "GeGLU", "gelu_tanh": "GeGLU (tanh)", "relu": "ReGLU", "silu": "SwiGLU"}
_FORMULA = {
    "gelu": "GELU(u) = u · Φ(u) = u · ½(1 + erf(u/√2))",
    "gelu_tanh": "GELU(u) ≈ ½u(1 + tanh(√(2/π)(u + 0.044715u³)))",
    "relu": "ReLU(u) = max(0, u)",
    "silu": "SiLU(u) = u · σ(u) = u / (1 + e^(−u))",
}


@dataclass(frozen=True, eq=False)
class NormStep:
    """One normalisation of one vector x (d,), with its statistics.

    ``kind``: "LayerNorm", "RMSNorm" or "none" (the lesson models: out = x).
    LayerNorm: ``mean`` μ, ``variance`` σ² = mean((x − μ)²), ``scale`` σ = sqrt(σ² + ε).
    RMSNorm: ``mean`` None, ``variance`` mean(x²), ``scale`` rms = sqrt(mean(x²) + ε).
    ``normalised`` (d,): (x − μ)/σ or x/rms; ``gamma``/``beta`` (d,) or None; ``out`` (d,).
    """

    kind: str
    x: np.ndarray
    mean: float | None
    variance: float
    eps: float
    scale: float
    normalised: np.ndarray
    gamma: np.ndarray | None
    beta: np.ndarray | None
    out: np.ndarray

    @property
    def formula(self) -> str:
        if self.kind == "LayerNorm":
            return "(x − μ) / √(σ² + ε) ⊙ γ + β"
        if self.kind == "RMSNorm":
            return "x / √(mean(x²) + ε) ⊙ γ"
        return "x (no normalisation)"


@dataclass(frozen=True, eq=False)
class MlpStep:
    """The MLP on one vector; m = the hidden width.

    ``activation``: "GELU", "GELU (tanh)", "ReLU", "SiLU" or, gated, "SwiGLU", "GeGLU",
    "ReGLU"; ``formula`` its definition. ``x`` (d,) the input; ``up`` (m,) x W_up + b_up;
    ``gate`` (m,) x W_gate + b_gate (gated only, else None); ``activated`` (m,) act(up) or
    act(gate); ``hidden`` (m,) what the down projection reads: act(up), or act(gate) ⊙ up.
    ``top_neurons`` (k,) indices by |hidden| (largest first), ``top_hidden`` (k,) their
    values, ``top_write_norms`` (k,) ‖h_n W_down[n]‖, ``top_write`` (k, d) h_n W_down[n],
    ``top_logit`` (k,) each one's direct effect on the target's logit through the final norm
    with its scale frozen (None without a target). ``down_bias`` (d,) or None; ``out`` (d,);
    ``up_bias``: whether the up projection adds a bias.
    """

    activation: str
    formula: str
    gated: bool
    x: np.ndarray
    up: np.ndarray
    gate: np.ndarray | None
    activated: np.ndarray
    hidden: np.ndarray
    top_neurons: np.ndarray
    top_hidden: np.ndarray
    top_write_norms: np.ndarray
    top_write: np.ndarray
    top_logit: np.ndarray | None
    down_bias: np.ndarray | None
    out: np.ndarray
    up_bias: bool = False  # whether the up (and gate) projection adds a bias

    @property
    def width(self) -> int:
        return self.hidden.shape[0]


@dataclass(frozen=True, eq=False)
class OutputStep:
    """The last block's output → the prediction after this token.

    ``norm``: the final normalisation of the last residual vector; ``target`` (a token id)
    and its unembedding ``direction`` (d,) and ``bias``: ``logit`` = direction · norm.out +
    bias. For a linear unembedding that is the token's logit; for the bundled model's tied
    adaptive softmax it is the linear score the softmaxes start from (``kind`` says which).
    ``top_ids``/``top_values``/``top_probs`` (k,): the k likeliest next tokens with the
    values the Next-token view shows (logits, or log-probabilities for an adaptive softmax).
    """

    norm: NormStep
    target: int
    direction: np.ndarray
    bias: float
    logit: float
    kind: str
    top_ids: np.ndarray
    top_values: np.ndarray
    top_probs: np.ndarray


@dataclass(frozen=True, eq=False)
class BlockSteps:
    """Block ``layer`` for the token at ``query``, from the attention's output on.

    Shapes: d = d_model, H heads. ``placement``: "pre" or "post" (norm placement).
    ``resid_pre`` (d,): the token's residual vector entering the block; ``heads`` (H, d):
    every head's ΔE (``head``: the one selected, or None); ``attn_bias`` (d,) b_O (zeros
    without one); ``attn_out`` (d,) = Σ heads + b_O; ``attn_sum`` (d,) = resid_pre + attn_out.
    Pre-norm: ``resid_mid`` = attn_sum and ``norm_mlp`` normalises it for the MLP;
    post-norm: ``norm_attn`` (Add & Norm) turns attn_sum into ``resid_mid``, the MLP reads it.
    ``mlp`` (None for a model without MLPs), ``mlp_out`` (d,), ``mlp_sum`` (d,) = resid_mid +
    mlp_out; post-norm: ``norm_out`` turns it into ``resid_post``. ``output``: the final norm
    and unembedding after the last block of a model with an LM head, else None
    (``output_note`` says why). ``checks``: (name, relative difference) of each recomputed
    vector from the forward pass's capture (difference / largest magnitude captured).
    """

    layer: int
    query: int
    token: str
    n_layers: int
    placement: str
    resid_pre: np.ndarray
    head: int | None
    heads: np.ndarray
    attn_bias: np.ndarray
    attn_out: np.ndarray
    attn_sum: np.ndarray
    norm_attn: NormStep | None
    resid_mid: np.ndarray
    norm_mlp: NormStep | None
    mlp: MlpStep | None
    mlp_out: np.ndarray
    mlp_sum: np.ndarray
    norm_out: NormStep | None
    resid_post: np.ndarray
    output: OutputStep | None
    output_note: str
    checks: tuple[tuple[str, float], ...]

    @property
    def is_last(self) -> bool:
        return self.layer == self.n_layers - 1

    @property
    def next_layer(self) -> int | None:
        """The block whose input :attr:`resid_post` is (None after the last)."""
        return None if self.is_last else self.layer + 1

    @property
    def worst_check(self) -> float:
        return max((err for _, err in self.checks), default=0.0)

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages in the model's order, as a view steps through them."""
        mlp = ("mlp_up", "mlp_activation", "mlp_neurons", "mlp_down") if self.mlp is not None else ()
        if self.placement == "post":
            names = ("attn_add", "attn_norm", *mlp, "mlp_add", "mlp_norm")
        else:  # a model without MLPs (the lesson models) adds nothing after attention
            names = ("attn_add", "mlp_norm", *mlp, "mlp_add") if mlp else ("attn_add",)
        tail = ("final_norm", "unembed") if self.output is not None else () if self.is_last else ("next_block",)
        return names + tail


def activation_name(cfg) -> tuple[str, str]:
    """(name, formula) of a config's MLP activation: "GELU", "SwiGLU", …"""
    names = _GATED if cfg.gated_mlp else _PLAIN
    formula = _FORMULA.get(cfg.activation, cfg.activation)
    if cfg.gated_mlp:
        formula = f"act(g) ⊙ u with {formula}"
    return names.get(cfg.activation, cfg.activation), formula


def _f64(t: torch.Tensor | None) -> np.ndarray | None:
    import torch

    return None if t is None else t.detach().to("cpu", torch.float32).double().numpy()


def norm_step(norm: nn.Module, x: np.ndarray) -> NormStep:
    """``norm`` (an ``nn.LayerNorm``, :class:`RMSNorm` or ``nn.Identity``) applied to ``x``
    (d,) in float64, with its statistics."""
    from torch import nn

    from model.core.transformer import RMSNorm

    x = np.asarray(x, dtype=np.float64)
    if isinstance(norm, nn.LayerNorm):
        mean = float(x.mean())
        variance = float(((x - mean) ** 2).mean())
        scale = math.sqrt(variance + norm.eps)
        normalised = (x - mean) / scale
        gamma, beta = _f64(norm.weight), _f64(norm.bias)
        out = normalised * (gamma if gamma is not None else 1.0) + (beta if beta is not None else 0.0)
        return NormStep("LayerNorm", x, mean, variance, float(norm.eps), scale, normalised, gamma, beta, out)
    if isinstance(norm, RMSNorm):
        variance = float((x**2).mean())
        scale = math.sqrt(variance + norm.eps)
        normalised = x / scale
        gamma = _f64(norm.scale())  # g, or 1 + g (Gemma)
        return NormStep("RMSNorm", x, None, variance, float(norm.eps), scale, normalised, gamma, None,
                        normalised * gamma)
    if isinstance(norm, nn.Identity):
        return NormStep("none", x, None, float((x**2).mean()), 0.0, 1.0, x, None, None, x)
    raise ValueError(f"a {type(norm).__name__} normalisation cannot be stepped through")


def _activate(kind: str, u: np.ndarray) -> np.ndarray:
    import torch

    t = torch.from_numpy(u)  # float64
    if kind == "gelu":
        out = 0.5 * t * (1.0 + torch.erf(t / math.sqrt(2.0)))
    elif kind == "gelu_tanh":
        out = 0.5 * t * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (t + 0.044715 * t**3)))
    elif kind == "silu":
        out = t * torch.sigmoid(t)
    elif kind == "relu":
        out = torch.clamp(t, min=0.0)
    else:
        raise ValueError(f"the activation {kind!r} cannot be stepped through")
    return out.numpy()


def _linear(layer: nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(x W + b, W as (out, in) float64, b) for an ``nn.Linear`` or a layer that keeps
    ``weight`` and ``bias`` the same way (bfloat16 and 8-bit layers do)."""
    weight, bias = _f64(layer.weight), _f64(getattr(layer, "bias", None))
    y = weight @ x
    return (y + bias if bias is not None else y), weight, bias


def mlp_step(module: Transformer, layer: int, x: np.ndarray, direction: np.ndarray | None = None,
             top_k: int = TOP_NEURONS) -> MlpStep:
    """Block ``layer``'s MLP on ``x`` (d,). ``direction`` (d,): the target's unembedding
    direction through the final norm with its scale frozen (γ ⊙ w_t / σ, centred for a
    LayerNorm), for each listed neuron's direct effect on the logit."""
    mlp = module.blocks[layer].mlp
    cfg = module.cfg
    x = np.asarray(x, dtype=np.float64)
    up, _, b_up = _linear(mlp.fc, x)  # (m,)
    gate = None
    if mlp.gate is not None:
        gate, _, _ = _linear(mlp.gate, x)
        activated = _activate(cfg.activation, gate)
        hidden = activated * up
    else:
        activated = _activate(cfg.activation, up)
        hidden = activated
    w_down, b_down = _f64(mlp.proj.weight), _f64(mlp.proj.bias)  # (d, m), (d,)
    out = w_down @ hidden + (b_down if b_down is not None else 0.0)
    k = min(top_k, hidden.shape[0])
    top = np.argsort(-np.abs(hidden), kind="stable")[:k]
    writes = hidden[top, None] * w_down[:, top].T  # (k, d)
    name, formula = activation_name(cfg)
    return MlpStep(
        name, formula, gate is not None, x, up, gate, activated, hidden, top, hidden[top],
        np.linalg.norm(writes, axis=1), writes, None if direction is None else writes @ direction, b_down, out,
        b_up is not None,
    )


def _relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = max(float(np.abs(theirs).max()) if theirs.size else 0.0, 1e-12)
    return float(np.abs(np.asarray(ours, dtype=np.float64) - theirs).max()) / scale


def _frozen_direction(final: NormStep, w: np.ndarray) -> np.ndarray:
    """The direction a vector written into the last residual is read along, the final norm's
    scale frozen: γ ⊙ w / σ, centred (minus its mean) for a LayerNorm (which subtracts μ)."""
    v = (final.gamma * w if final.gamma is not None else w) / final.scale
    return v - v.mean() if final.kind == "LayerNorm" else v


def block_steps(module: Transformer, trace: Trace, layer: int, query: int, head: int | None = None,
                target: int | None = None, top_k: int = TOP_NEURONS) -> BlockSteps:
    """Block ``layer`` for the token at ``query`` (negative counts from the end) of ``trace``,
    a trace of ``module``, after the attention heads' ΔE (module docstring).

    ``head``: the head the step-through came from (kept for the view). ``target``: the token
    whose logit the last block's output stage shows, and whose direct effect each listed
    neuron has (default: the top prediction at ``query``; ignored without an LM head).
    Raises ValueError for a layer or position outside the trace, or a trace of another shape.
    """
    from model.analysis.dla import unembedding_direction

    L, H, T, d = trace.n_layers, trace.n_heads, trace.n_tokens, trace.d_model
    if not 0 <= layer < L:
        raise ValueError(f"no layer {layer}: the model has {L}")
    if not -T <= query < T:
        raise ValueError(f"query {query} is outside the {T} tokens traced")
    if head is not None and not 0 <= head < H:
        raise ValueError(f"no head {head}: each layer has {H}")
    if len(module.blocks) != L or module.cfg.d_model != d:
        raise ValueError("the trace belongs to a model of another shape")
    i = query % T
    block = module.blocks[layer]
    if getattr(block, "ln_attn_out", None) is not None:
        raise ValueError(f"{module.cfg.name} normalises what attention and the MLP add (four norms a block, "
                         "Gemma): the block step-through does not show those norms yet")
    f64 = np.float64
    checks: list[tuple[str, float]] = []
    x = trace.resid_pre[layer, i].astype(f64)
    heads = trace.head_out[layer, :, i].astype(f64)  # (H, d)
    bias = _f64(block.attn.out.bias)
    attn_bias = bias if bias is not None else np.zeros(d)
    attn_out = heads.sum(0) + attn_bias
    checks.append(("attn_out", _relative(attn_out, trace.attn_out[layer, i])))
    attn_sum = x + attn_out
    pre = block.pre_norm
    has_head = module.unembed is not None and module.ln_f is not None
    final = norm_step(module.ln_f, trace.resid_post[-1, i]) if has_head else None
    if has_head and target is None:
        target = _top_target(module, trace, i, final)
    direction = None
    if has_head:
        w, _ = unembedding_direction(module, int(target))
        direction = _frozen_direction(final, w)
    norm_attn = norm_mlp = norm_out = None
    if pre:
        resid_mid = attn_sum
        norm_mlp = norm_step(block.ln2, resid_mid)
        mlp_in = norm_mlp.out
    else:
        norm_attn = norm_step(block.ln1, attn_sum)
        resid_mid = norm_attn.out
        mlp_in = resid_mid
    checks.append(("resid_mid", _relative(resid_mid, trace.resid_mid[layer, i])))
    mlp = mlp_step(module, layer, mlp_in, direction, top_k) if block.mlp is not None else None
    mlp_out = mlp.out if mlp is not None else np.zeros(d)
    checks.append(("mlp_out", _relative(mlp_out, trace.mlp_out[layer, i])))
    mlp_sum = resid_mid + mlp_out
    if pre:
        resid_post = mlp_sum
    else:
        norm_out = norm_step(block.ln2, mlp_sum)
        resid_post = norm_out.out
    checks.append(("resid_post", _relative(resid_post, trace.resid_post[layer, i])))
    output, note = None, ""
    if layer == L - 1:
        if has_head:
            final = norm_step(module.ln_f, resid_post)  # from the recomputed residual
            output = _output(module, trace, i, final, int(target), checks)
        elif module.unembed is None:
            note = f"{module.cfg.name} has no language-model head: the last block's output is the model's output"
        else:
            note = "post-norm: the last block's Add & Norm is the final normalisation"
    return BlockSteps(
        layer, i, trace.token_strings[i], L, "pre" if pre else "post", x, head, heads, attn_bias, attn_out,
        attn_sum, norm_attn, resid_mid, norm_mlp, mlp, mlp_out, mlp_sum, norm_out, resid_post, output, note,
        tuple(checks),
    )


def _model_logits(module: Transformer, h: np.ndarray) -> np.ndarray:
    """Full-vocabulary logits (V,) the module's own unembedding gives the normed vector h."""
    import torch

    device = next(module.parameters()).device
    with torch.inference_mode():
        out = module.unembed_logits(torch.tensor(h, dtype=torch.float32, device=device)[None])
        return module.full_vocab_logits(out)[0].float().cpu().numpy()


def _top_target(module: Transformer, trace: Trace, i: int, final: NormStep) -> int:
    if trace.has_logits_at(i):
        return int(np.argmax(trace.logits_at(i)))
    return int(np.argmax(_model_logits(module, final.out)))


def _output(module: Transformer, trace: Trace, i: int, final: NormStep, target: int,
            checks: list[tuple[str, float]]) -> OutputStep:
    from torch import nn

    from model.analysis.dla import unembedding_direction
    from model.core.transformer import TiedAdaptiveSoftmax

    checks.append(("final_norm", _relative(final.out, trace.final_norm[i])))
    w, b = unembedding_direction(module, target)
    logit = float(final.out @ w + b)
    logits = trace.logits_at(i).astype(np.float64) if trace.has_logits_at(i) else None
    adaptive = isinstance(module.unembed, (TiedAdaptiveSoftmax, nn.AdaptiveLogSoftmaxWithLoss))
    ours = _model_logits(module, final.out).astype(np.float64)
    if logits is not None:
        finite = np.isfinite(logits)
        checks.append(("logits", _relative(ours[finite], logits[finite])))
        if not adaptive:
            checks.append(("logit", abs(logit - float(logits[target])) / max(float(np.abs(logits[finite]).max()), 1e-12)))
    else:
        logits = ours
    k = min(TOP_TOKENS, int(np.isfinite(logits).sum()))
    top = np.argsort(-logits, kind="stable")[:k]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    kind = "score (the adaptive softmax's linear score)" if adaptive else "logit"
    return OutputStep(final, target, w, float(b), logit, kind, top, logits[top], probs[top])
