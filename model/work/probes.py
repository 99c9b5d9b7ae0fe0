"""The analyses the app runs on its model thread beyond the trace itself: the logit lens,
knock-out, patching, the knock-out sweep, head badges and the step-through's rest of a block. One entry point per shape of
work: :func:`run` (one step) and :func:`job_steps` (a long job, step by step).

Each result names the text (and heads) it was computed for, so a panel can tell whether it
still matches what is on screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from model.analysis.ablation import Head, knocked_out, knockout_logits, patched_logits, sweep_steps
from model.analysis.badges import badge_steps, candidate_ids, probe_ids
from model.analysis.block_steps import BlockSteps, block_steps
from model.analysis.dla import Attribution, attribute, single_token
from model.analysis.flow import FlowGraph, information_flow
from model.analysis.lens import LensResult, TokenLens, extend, logit_lens, token_lens
from model.analysis.saliency import Saliency, default_baseline, saliency_steps
from model.analysis.stepthrough import try_head_weights
from model.core.trace import Trace
from model.tracer.runner import TracingModel


@dataclass(frozen=True, eq=False)
class AblationResult:
    """Next-token logits (V,) after ``position`` of ``text`` with ``heads`` knocked out."""

    text: str
    heads: tuple[Head, ...]
    mode: str
    position: int
    logits: np.ndarray


@dataclass(frozen=True, eq=False)
class PatchResult:
    """Prompt B with ``heads``' outputs taken from prompt A: logits (V,) after the last token
    of A, of B, and of B patched."""

    text_a: str
    text_b: str
    heads: tuple[Head, ...]
    logits_a: np.ndarray
    logits_b: np.ndarray
    logits_patched: np.ndarray


@dataclass(frozen=True, eq=False)
class DlaResult:
    """Direct logit attribution of ``text`` at ``position``: who wrote the target's logit
    (or the contrast target − contrast), :class:`model.analysis.dla.Attribution`."""

    text: str
    position: int
    target: int
    contrast: int | None
    contrast_text: str
    attribution: Attribution


@dataclass(frozen=True, eq=False)
class SaliencyResult:
    """Input saliency of ``text`` (:class:`model.analysis.saliency.Saliency`), or None: the
    shading was switched off."""

    text: str
    saliency: Saliency | None


@dataclass(frozen=True, eq=False)
class SweepOutcome:
    text: str
    token: int
    position: int
    mode: str
    base_logprob: float
    delta: np.ndarray  # (L, H)


def _heads(options: dict) -> tuple[Head, ...]:
    return tuple(sorted((int(layer), int(head)) for layer, head in options.get("heads", ())))


def _means(model: TracingModel, heads, mode: str):
    """The model's reference means when ``heads`` are mean-ablated (computed once per model,
    before any knock-out: see TracingModel.reference_means), else None."""
    return model.reference_means() if heads and mode == "mean" else None


def lens(model: TracingModel, text: str, options: dict, last_trace: Trace | None = None,
         memo: dict | None = None) -> LensResult:
    """The lens of ``text`` (with ``options["heads"]`` knocked out, if any).

    ``memo`` (a dict the caller keeps between calls) holds the last result per setting: when
    the new tokens extend the old ones, only the positions from the first changed token on
    are computed again (a causal model's earlier positions cannot have changed, with or
    without a knock-out: both modes replace each position's head output on its own).
    """
    heads, mode = _heads(options), options.get("mode", "zero")
    track = tuple(int(t) for t in options.get("track", ()))
    if heads:
        means = _means(model, heads, mode)
        with knocked_out(model.module, heads, mode, means):
            trace = model.trace(text)
    elif last_trace is not None and last_trace.text == text and last_trace.model_name == model.name:
        trace = last_trace  # the trace the screen shows: no second forward pass
    else:
        trace = model.trace(text)
    key = (model.name, heads, mode, track)
    keep = 0
    if memo is not None and key in memo and trace.causal:
        old_ids, old = memo[key]
        n = min(len(old_ids), trace.n_tokens)
        same = np.flatnonzero(old_ids[:n] != trace.token_ids[:n])
        keep = int(same[0]) if len(same) else n
        # The same tokens (a trailing space) or fewer (a deleted word): nothing new to run,
        # but the lens of at least one position is computed so the result has rows to extend.
        keep = min(keep, trace.n_tokens - 1)
    fresh = logit_lens(model.module, trace.resid_post[:, keep:], text, track)
    result = extend(memo[key][1], fresh, keep) if keep else fresh
    result = LensResult(**{**result.__dict__, "text": text, "ablated": heads, "ablation_mode": mode})
    if memo is not None:
        memo.clear()  # one setting at a time: the person looks at one lens
        memo[key] = (trace.token_ids.copy(), result)
    return result


def _resid_pre(model: TracingModel, ids, last_trace: Trace | None):
    """The screen's trace's residual stream when it is of these tokens (a knock-out then
    starts at its first knocked-out layer), else None."""
    if (last_trace is not None and last_trace.model_name == model.name and last_trace.causal
            and list(last_trace.token_ids) == list(ids)):
        return last_trace.resid_pre
    return None


def ablate(model: TracingModel, text: str, options: dict, last_trace: Trace | None = None) -> AblationResult:
    """The next-token logits with ``options["heads"]`` knocked out.

    A knock-out (zero or mean) of a causal model is a knocked-out trace, which reuses the
    rows of the last one with the same heads and mode (model/core/incremental.py): while typing
    only the new tokens run. Otherwise (an encoder) the knock-out runs from the screen's
    trace's residual stream entering the first knocked-out layer.
    """
    heads, mode = _heads(options), options.get("mode", "zero")
    means = _means(model, heads, mode)
    if heads and model.cfg.causal and model.incremental and model.has_lm_head:
        if last_trace is not None and last_trace.text == text and last_trace.model_name == model.name:
            n_tokens = last_trace.n_tokens  # the screen's trace of this text: no second tokenization
        else:
            n_tokens = len(model.encode(text)[0].ids)
        position = int(options.get("position", -1)) % n_tokens
        with knocked_out(model.module, heads, mode, means):
            logits = model.trace(text, logit_positions=[position]).logits[0]
        return AblationResult(text, heads, mode, position, logits)
    ids = model.encode(text)[0].ids
    position = int(options.get("position", -1)) % len(ids)
    logits = knockout_logits(model.module, ids, heads, position, mode, _resid_pre(model, ids, last_trace), means)
    return AblationResult(text, heads, mode, position, logits)


def patch(model: TracingModel, text: str, options: dict) -> PatchResult:
    """``text`` is prompt B; ``options["source"]`` is prompt A."""
    source = options["source"]
    ids_a, ids_b = model.encode(source)[0].ids, model.encode(text)[0].ids
    heads = _heads(options)
    logits_a = knockout_logits(model.module, ids_a, [])
    logits_b = knockout_logits(model.module, ids_b, [])
    patched = patched_logits(model.module, ids_a, ids_b, heads) if heads else logits_b
    return PatchResult(source, text, heads, logits_a, logits_b, patched)


def dla(model: TracingModel, text: str, options: dict, last_trace: Trace | None = None) -> DlaResult:
    """``options``: ``position`` (default −1), ``target`` (a token id; default the top
    prediction there), ``contrast`` (text of one token, optional: the attribution is then of
    target − contrast). Reuses the trace on screen when it is of ``text`` and has the logits."""
    n = len(model.encode(text)[0])
    position = int(options.get("position", -1)) % max(n, 1)
    trace = last_trace
    if trace is None or trace.text != text or not trace.has_logits_at(position):
        trace = model.trace(text, logit_positions=sorted({position, n - 1}))
    target = options.get("target")
    if target is None:
        target = int(np.argmax(trace.logits_at(position)))
    contrast_text = str(options.get("contrast") or "")
    contrast = single_token(model.tokenizer, contrast_text) if contrast_text.strip() else None
    return DlaResult(text, position, int(target), contrast, contrast_text,
                     attribute(model.module, trace, position, int(target), contrast))


def flow(model: TracingModel, text: str, last_trace: Trace | None = None) -> FlowGraph:
    """The contribution graph of ``text`` (:mod:`model.analysis.flow`), from the trace on
    screen when it is of ``text``."""
    trace = last_trace if last_trace is not None and last_trace.text == text else model.trace(text)
    weights = try_head_weights(model.module)
    if weights is None:
        raise ValueError("this model's heads cannot be read one by one: no contribution graph")
    return information_flow(trace, weights)


@dataclass(frozen=True, eq=False)
class BlockResult:
    """The rest of block ``steps.layer`` after ΔE for one token of ``text``
    (:class:`model.analysis.block_steps.BlockSteps`), for the step-through; ``head`` and
    ``target`` as asked (None: the top prediction)."""

    text: str
    head: int | None
    target: int | None
    steps: BlockSteps


def block(model: TracingModel, text: str, options: dict, last_trace: Trace | None = None) -> BlockResult:
    """``options``: ``layer``, ``query`` (default −1), ``head`` (kept for the view), ``target``
    (a token id; default the top prediction). Reuses the trace on screen when it is of ``text``."""
    trace = last_trace
    if trace is None or trace.text != text or trace.model_name != model.name:
        trace = model.trace(text)
    head, target = options.get("head"), options.get("target")
    head, target = None if head is None else int(head), None if target is None else int(target)
    steps = block_steps(model.module, trace, int(options.get("layer", 0)), int(options.get("query", -1)), head, target)
    return BlockResult(text, head, target, steps)


@dataclass(frozen=True, eq=False)
class TokenLensResult:
    """Chosen tokens (``words``, as typed) followed up the layers at ``position`` of ``text``
    (:class:`model.analysis.lens.TokenLens`): their rank, probability and logit per layer."""

    text: str
    words: tuple[str, ...]
    lens: TokenLens


def follow_tokens(model: TracingModel, text: str, options: dict, last_trace: Trace | None = None) -> TokenLensResult:
    """``options``: ``tokens`` (one or two texts, each one token: " is", " are"), ``position``
    (default −1), ``heads`` and ``mode`` (knocked out, as for the lens). A text that is not one token is a ValueError saying how the tokenizer splits it."""
    from model.analysis.tokens import single_token

    words = tuple(str(w) for w in options.get("tokens", ()) if str(w))
    predictable = model.cfg.output_token_ids
    ids = [single_token(model.tokenizer, w, predictable) for w in words]
    heads, mode = _heads(options), options.get("mode", "zero")
    trace = last_trace
    if heads:  # the lens's knock-out, so the lines follow the ladder above them
        with knocked_out(model.module, heads, mode, _means(model, heads, mode)):
            trace = model.trace(text)
    elif trace is None or trace.text != text or trace.model_name != model.name:
        trace = model.trace(text)
    return TokenLensResult(text, words, token_lens(model.module, trace.resid_post, int(options.get("position", -1)), ids))


def run(model: TracingModel, request, last_trace: Trace | None = None, memo: dict | None = None):
    """One-step analyses: ``request.kind`` is "lens", "ablate", "patch", "dla", "flow", "block"
    or "character"."""
    if request.kind == "lens":
        return lens(model, request.text, request.options, last_trace, memo)
    if request.kind == "ablate":
        return ablate(model, request.text, request.options, last_trace)
    if request.kind == "patch":
        return patch(model, request.text, request.options)
    if request.kind in ("dla", "head_dla"):  # the Who wrote it tab's, the heads grid's colours
        return dla(model, request.text, request.options, last_trace)
    if request.kind == "flow":
        return flow(model, request.text, last_trace)
    if request.kind == "token_lens":
        return follow_tokens(model, request.text, request.options, last_trace)
    if request.kind == "block":
        return block(model, request.text, request.options, last_trace)
    if request.kind == "character":
        from model.tracer.generation import finish_character

        o = request.options
        return finish_character(model, request.text, o["tokens"], float(o.get("temperature", 1.0)),
                                o.get("top_k"), o.get("top_p"), o.get("seed"))
    raise ValueError(f"unknown analysis {request.kind!r}")


def sweep_job(model: TracingModel, text: str, options: dict,
              last_trace: Trace | None = None) -> Iterator[tuple[int, int, SweepOutcome | None]]:
    ids = model.encode(text)[0].ids
    position = int(options.get("position", -1)) % len(ids)
    token = options.get("token")
    if token is None:
        token = int(np.argmax(knockout_logits(model.module, ids, [], position)))
    mode = options.get("mode", "zero")
    means = model.reference_means() if mode == "mean" else None
    for done, total, result in sweep_steps(model.module, ids, int(token), position, mode,
                                           int(options.get("batch", 32)), _resid_pre(model, ids, last_trace),
                                           means):
        if result is None:
            yield done, total, None
        else:
            yield done, total, SweepOutcome(text, result.token, position, mode, result.base_logprob, result.delta)


def badges_job(model: TracingModel) -> Iterator:
    texts = probe_ids(lambda t: model.encode(t)[0].ids, model.max_tokens)
    yield from badge_steps(model.module, texts, candidate_ids(model.module))


def saliency_job(model: TracingModel, text: str, options: dict) -> Iterator:
    """Gradient × input and integrated gradients (``steps``, default 32) of the target
    (default: the top prediction) minus ``contrast`` at ``position``, a chunk of integration
    points per step; ``clear``: no scores (the shading is switched off)."""
    if options.get("clear"):
        yield 1, 1, SaliencyResult(text, None)
        return
    ids = model.encode(text)[0].ids
    position = int(options.get("position", -1)) % len(ids)
    target = options.get("target")
    if target is None:
        target = int(np.argmax(knockout_logits(model.module, ids, [], position)))
    contrast_text = str(options.get("contrast") or "")
    contrast = single_token(model.tokenizer, contrast_text) if contrast_text.strip() else None
    baseline = default_baseline(model.module)
    pad = model.tokenizer.token_to_id("[PAD]") or model.tokenizer.token_to_id("<pad>") or 0
    for done, total, result in saliency_steps(model.module, ids, position, int(target), contrast,
                                              int(options.get("steps", 32)), baseline, pad):
        yield done, total, None if result is None else SaliencyResult(text, result)


def job_steps(model: TracingModel, request, last_trace: Trace | None = None) -> Iterator:
    """Long jobs, one forward pass per step: "sweep", "badges" and "saliency"."""
    if request.kind == "sweep":
        return sweep_job(model, request.text, request.options, last_trace)
    if request.kind == "badges":
        return badges_job(model)
    if request.kind == "saliency":
        return saliency_job(model, request.text, request.options)
    raise ValueError(f"unknown job {request.kind!r}")
