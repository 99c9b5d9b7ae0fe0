"""The step-through's words for the rest of a block after ΔE: each block stage's chip, its
formula in the documents' notation and one sentence saying what it does, from
:class:`~model.analysis.block_steps.BlockSteps` (Qt-free but for the translation call)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from explorer.views.paint import fmt
from model.analysis.block_steps import BlockSteps, NormStep


def _label(token: str) -> str:
    from explorer.views.stage_text import _label as label

    return label(token)


def block_norm(bs: BlockSteps, name: str) -> NormStep | None:
    """The normalisation a norm stage shows: the MLP's input norm (pre-norm), Add & Norm after
    attention or after the MLP (post-norm), or the final norm."""
    if name == "attn_norm":
        return bs.norm_attn
    if name == "mlp_norm":
        return bs.norm_mlp if bs.placement == "pre" else bs.norm_out
    if name == "final_norm":
        return bs.output.norm if bs.output is not None else None
    return None


def block_chip(bs: BlockSteps | None, name: str) -> str:
    """A block stage's chip: short, the activation as the model has it."""
    if name == "mlp_activation" and bs is not None and bs.mlp is not None:
        return bs.mlp.activation
    if name == "next_block" and bs is not None and bs.next_layer is not None:
        return f"→ L{bs.next_layer}"
    return {
        "attn_add": "+ ΣΔE", "attn_norm": QCoreApplication.translate("StepThrough", "norm"), "mlp_norm": QCoreApplication.translate("StepThrough", "norm"), "mlp_up": "W_up",
        "mlp_activation": "act", "mlp_neurons": QCoreApplication.translate("StepThrough", "neurons"), "mlp_down": "W_down", "mlp_add": "+ MLP",
        "next_block": "→", "final_norm": QCoreApplication.translate("StepThrough", "final norm"), "unembed": QCoreApplication.translate("StepThrough", "logit"),
    }[name]


def _norm_formula(n: NormStep, x: str) -> str:
    if n.kind == "LayerNorm":
        beta = " + β" if n.beta is not None else ""
        return f"LN({x}) = ({x} − μ) / √(σ² + ε) ⊙ γ{beta}"
    if n.kind == "RMSNorm":
        return f"RMSNorm({x}) = {x} / √(mean({x}²) + ε) ⊙ γ"
    return QCoreApplication.translate("StepThrough", "{x}   (this model does not normalise)").format(x=x)


def block_formula(bs: BlockSteps, name: str) -> tuple[str, str]:
    """A block stage's formula and what it does, for the token at ``bs.query``."""
    tok, layer = _label(bs.token), bs.layer
    if name == "attn_add":
        bias = " + b_O" if bs.attn_bias.any() else ""
        out = "x + Σ_h ΔE_h" if bs.placement == "post" else "x_mid = x + Σ_h ΔE_h"
        return (f"{out}{bias}",
                QCoreApplication.translate("StepThrough", "the residual connection: every head of layer {layer} adds its ΔE to the vector of “{token}”, "
                    "which keeps what it had").format(layer=layer, token=tok))
    if name in ("attn_norm", "mlp_norm", "final_norm"):
        n = block_norm(bs, name)
        if name == "final_norm":
            return (_norm_formula(n, "x"),
                    QCoreApplication.translate("StepThrough", "after the last block, one last normalisation before the unembedding"))
        if bs.placement == "post":
            x = "x + attn" if name == "attn_norm" else "x_mid + MLP"
            return (_norm_formula(n, x),
                    QCoreApplication.translate("StepThrough", "post-norm (Add & Norm, as BERT): the sum itself is normalised and becomes the residual vector"))
        return (_norm_formula(n, "x_mid"),
                QCoreApplication.translate("StepThrough", "pre-norm: the MLP reads a normalised copy; the residual vector x_mid itself is unchanged"))
    mlp = bs.mlp
    if name == "mlp_up":
        m = mlp.width
        if mlp.gated:
            bias = " + b" if mlp.up_bias else ""
            return (f"g = x W_gate{bias}      u = x W_up{bias}",
                    QCoreApplication.translate("StepThrough", "{m} neurons each read the vector along their own direction, twice: a gate and a value").format(m=m))
        bias = " + b_up" if mlp.up_bias else ""
        return (f"u = x W_up{bias}",
                QCoreApplication.translate("StepThrough", "{m} neurons, each reading the vector along its own direction").format(m=m))
    if name == "mlp_activation":
        definition = mlp.formula.split(" with ")[-1]  # "SiLU(u) = u · σ(u) = …"
        act = definition.split("(")[0]
        return (f"h = {act}(g) ⊙ u" if mlp.gated else f"h = {act}(u)",
                QCoreApplication.translate("StepThrough", "{definition}; {name}: the block's one non-linear step, most neurons end near zero").format(
                    definition=definition, name=mlp.activation))
    if name == "mlp_neurons":
        return ("MLP(x) = Σ_n h_n W_down[n]",
                QCoreApplication.translate("StepThrough", "the ten neurons with the largest |h_n|: what each writes, and its direct effect on the logit"))
    if name == "mlp_down":
        bias = " + b_down" if mlp.down_bias is not None else ""
        return (f"MLP(x) = h W_down{bias}",
                QCoreApplication.translate("StepThrough", "all {m} neurons' writes added up: {d} numbers again").format(m=mlp.width, d=bs.resid_post.shape[0]))
    if name == "mlp_add":
        rhs = "x_mid + MLP(x)"
        return ((f"x + MLP = {rhs}" if bs.placement == "post" else f"x_out = {rhs}"),
                QCoreApplication.translate("StepThrough", "the residual connection again: the MLP's output is added to the vector of “{token}”").format(token=tok))
    if name == "next_block":
        return (f"x^({bs.next_layer}) = x_out",
                QCoreApplication.translate("StepThrough", "this vector is what block {next} reads for “{token}”: its heads start again from it").format(
                    next=bs.next_layer, token=tok))
    out = bs.output
    name = "logit" if out.kind == "logit" else "score"
    return (f"{name} = h · W_U[t] + b = {fmt(out.logit)}",
            QCoreApplication.translate("StepThrough", "the unembedding: one score per token of the vocabulary; the largest is the prediction after “{token}”").format(
                token=tok))
