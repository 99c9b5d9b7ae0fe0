"""The step-through's words: the stage chips' names and each stage's formula in the source
documents' notation with one sentence saying what it does (from HeadSteps; Qt-free but for
the translation call)."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from explorer.names import STAGES
from explorer.views.paint import fmt
from model.analysis.stepthrough import HeadSteps

CHIPS = ("x", "q, k", "q·k", "÷√d", QT_TRANSLATE_NOOP("StepThrough", "mask"), "softmax", "Σ w v", "ΔE")
MAX_LABEL = 12  # characters of a token label


def _tr(text: str) -> str:
    return QCoreApplication.translate("StepThrough", text)


def _label(token: str) -> str:
    token = token.replace("\n", "⏎").replace(" ", "␣") if token.strip() == "" else token.strip()
    return token if len(token) <= MAX_LABEL else token[: MAX_LABEL - 1] + "…"


def formula(steps: HeadSteps, stage: int) -> tuple[str, str]:
    """The stage's formula in the documents' notation, and one sentence saying what it does."""
    i, tok = steps.query, _label(steps.tokens[steps.query])
    dh = steps.d_head
    name = STAGES[stage]
    if name == "input":
        f = f"x_j = {steps.x_formula.replace('resid', 'resid_j').replace('E + P', 'E_j + P_j')}"
        return f, (QCoreApplication.translate("StepThrough", "every token's row as this head reads it: token embedding E plus position P")
                   if steps.embed is not None else QCoreApplication.translate("StepThrough", "every token's residual vector as this head reads it"))
    if name == "qk":
        bq = " + b_Q" if steps.b_q.any() else ""
        bk = " + b_K" if steps.b_k.any() else ""
        return (f"q = x_{i} W_Q{bq}      k_j = x_j W_K{bk}",
                QCoreApplication.translate("StepThrough", "“{token}” asks with its query; every token answers with its key ({dh} numbers each)").format(
                    token=tok, dh=dh))
    if name == "dot":
        return "q · k_j = Σ q_i k_j,i", QCoreApplication.translate("StepThrough", "how well each key lines up with the query of “{token}”").format(token=tok)
    if name == "scale":
        if steps.divisor == 1.0:
            return (QCoreApplication.translate("StepThrough", "q · k_j   (no ÷ √d_head)"),
                    QCoreApplication.translate("StepThrough", "this model does not scale its scores, as in the document's example"))
        return f"s_j = q · k_j / √d_head,   √{dh} = {fmt(steps.divisor)}", \
            QCoreApplication.translate("StepThrough", "√{dh} keeps the scores of {dh}-number vectors from growing with d_head").format(dh=dh)
    if name == "mask":
        if not steps.causal:
            return QCoreApplication.translate("StepThrough", "s_j  (no mask)"), QCoreApplication.translate("StepThrough", "an encoder: every token sees every other token, nothing is masked")
        return (QCoreApplication.translate("StepThrough", "s_j = −∞  for  j > i"),
                QCoreApplication.translate("StepThrough", "a token may not look ahead: keys after “{token}” become −∞, so exp(−∞) = 0").format(token=tok))
    if name == "softmax":
        return ("w_j = exp(s_j) / Σ_k exp(s_k)",
                QCoreApplication.translate("StepThrough", "the weights are positive and sum to 1: this row of the attention pattern"))
    if name == "values":
        bv = " + b_V" if steps.b_v.any() else ""
        return f"v_j = x_j W_V{bv}      z = Σ_j w_j v_j", QCoreApplication.translate("StepThrough", "each value, scaled by its weight, then added up")
    return "ΔE = z W_O      E ← E + ΔE", QCoreApplication.translate("StepThrough", "the head's contribution, added to the residual vector of “{token}”").format(
        token=tok)
