"""The analyses the app runs on its model thread beyond the trace itself: one handler per
request type of :mod:`model.work.requests` (the logit lens, knock-out, patching, DLA, the
graph, the step-through's rest of a block, followed tokens, a finished character, float32's
trace; and the long jobs: the knock-out sweep, head badges, saliency). :func:`run` and
:func:`job_steps` look the handler up by the request's type.

Each result names the text (and heads) it was computed for, so a panel can tell whether it
still matches what is on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from model.work import requests as rq
from model.work.requests import Analysis

#: request type -> handler(model, request, last_trace, memo): one step
HANDLERS: dict[type[Analysis], Callable] = {}
#: request type -> handler(model, request, last_trace): an iterator of (done, total, result or None)
JOB_HANDLERS: dict[type[Analysis], Callable] = {}


def handles(*kinds: type[Analysis], job: bool = False):
    """Register the decorated function as the handler of ``kinds``: one handler per request
    type, a long job's (``job``) only for a request type that says it is one."""
    def register(fn):
        for kind in kinds:
            if kind in HANDLERS or kind in JOB_HANDLERS:
                raise TypeError(f"{kind.__name__} has a handler already")
            if kind.job != job:
                raise TypeError(f"{kind.__name__}.job is {kind.job}, its handler's {job}")
            (JOB_HANDLERS if job else HANDLERS)[kind] = fn
        return fn
    return register


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


def _means(model: TracingModel, heads, mode: str):
    """The model's reference means when ``heads`` are mean-ablated (computed once per model,
    before any knock-out: see TracingModel.reference_means), else None."""
    return model.reference_means() if heads and mode == "mean" else None


@handles(rq.Lens)
def lens(model: TracingModel, request: rq.Lens, last_trace: Trace | None = None,
         memo: dict | None = None) -> LensResult:
    """The lens of ``request.text`` (with ``request.heads`` knocked out, if any).

    ``memo`` (a dict the caller keeps between calls) holds the last result per setting: when
    the new tokens extend the old ones, only the positions from the first changed token on
    are computed again (a causal model's earlier positions cannot have changed, with or
    without a knock-out: both modes replace each position's head output on its own).
    """
    text, heads, mode = request.text, request.heads, request.mode
    track = tuple(int(t) for t in request.track)
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


@handles(rq.Ablate)
def ablate(model: TracingModel, request: rq.Ablate, last_trace: Trace | None = None, memo=None) -> AblationResult:
    """The next-token logits with ``request.heads`` knocked out.

    A knock-out (zero or mean) of a causal model is a knocked-out trace, which reuses the
    rows of the last one with the same heads and mode (model/core/incremental.py): while typing
    only the new tokens run. Otherwise (an encoder) the knock-out runs from the screen's
    trace's residual stream entering the first knocked-out layer.
    """
    text, heads, mode = request.text, request.heads, request.mode
    means = _means(model, heads, mode)
    if heads and model.cfg.causal and model.incremental and model.has_lm_head:
        if last_trace is not None and last_trace.text == text and last_trace.model_name == model.name:
            n_tokens = last_trace.n_tokens  # the screen's trace of this text: no second tokenization
        else:
            n_tokens = len(model.encode(text)[0].ids)
        position = request.position % n_tokens
        with knocked_out(model.module, heads, mode, means):
            logits = model.trace(text, logit_positions=[position]).logits[0]
        return AblationResult(text, heads, mode, position, logits)
    ids = model.encode(text)[0].ids
    position = request.position % len(ids)
    logits = knockout_logits(model.module, ids, heads, position, mode, _resid_pre(model, ids, last_trace), means)
    return AblationResult(text, heads, mode, position, logits)


@handles(rq.Patch)
def patch(model: TracingModel, request: rq.Patch, last_trace: Trace | None = None, memo=None) -> PatchResult:
    """``request.text`` is prompt B; ``request.source`` is prompt A."""
    source, text = request.source, request.text
    ids_a, ids_b = model.encode(source)[0].ids, model.encode(text)[0].ids
    heads = request.heads
    logits_a = knockout_logits(model.module, ids_a, [])
    logits_b = knockout_logits(model.module, ids_b, [])
    patched = patched_logits(model.module, ids_a, ids_b, heads) if heads else logits_b
    return PatchResult(source, text, heads, logits_a, logits_b, patched)


@handles(rq.Dla, rq.HeadDla)  # the Who wrote it tab's, the heads grid's colours
def dla(model: TracingModel, request: rq.Dla, last_trace: Trace | None = None, memo=None) -> DlaResult:
    """``request``: ``position``, ``target`` (a token id; default the top prediction there),
    ``contrast`` (text of one token, optional: the attribution is then of target − contrast).
    Reuses the trace on screen when it is of the text and has the logits."""
    text = request.text
    n = len(model.encode(text)[0])
    position = request.position % max(n, 1)
    trace = last_trace
    if trace is None or trace.text != text or not trace.has_logits_at(position):
        trace = model.trace(text, logit_positions=sorted({position, n - 1}))
    target = request.target
    if target is None:
        target = int(np.argmax(trace.logits_at(position)))
    contrast_text = request.contrast or ""
    contrast = single_token(model.tokenizer, contrast_text) if contrast_text.strip() else None
    return DlaResult(text, position, int(target), contrast, contrast_text,
                     attribute(model.module, trace, position, int(target), contrast))


@handles(rq.Flow)
def flow(model: TracingModel, request: rq.Flow, last_trace: Trace | None = None, memo=None) -> FlowGraph:
    """The contribution graph of the text (:mod:`model.analysis.flow`), from the trace on
    screen when it is of the text."""
    text = request.text
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


@handles(rq.Block)
def block(model: TracingModel, request: rq.Block, last_trace: Trace | None = None, memo=None) -> BlockResult:
    """The rest of the block for the step-through. Reuses the trace on screen when it is of
    the text."""
    text = request.text
    trace = last_trace
    if trace is None or trace.text != text or trace.model_name != model.name:
        trace = model.trace(text)
    head, target = request.head, request.target
    steps = block_steps(model.module, trace, request.layer, request.query, head, target)
    return BlockResult(text, head, target, steps)


@dataclass(frozen=True, eq=False)
class TokenLensResult:
    """Chosen tokens (``words``, as typed) followed up the layers at ``position`` of ``text``
    (:class:`model.analysis.lens.TokenLens`): their rank, probability and logit per layer."""

    text: str
    words: tuple[str, ...]
    lens: TokenLens


@handles(rq.TokenLens)
def follow_tokens(model: TracingModel, request: rq.TokenLens, last_trace: Trace | None = None,
                  memo=None) -> TokenLensResult:
    """``request.tokens``: one or two texts, each one token (" is", " are"), followed at
    ``position`` with the lens's knock-out. A text that is not one token is a ValueError saying
    how the tokenizer splits it."""
    from model.analysis.tokens import single_token

    text = request.text
    words = tuple(str(w) for w in request.tokens if str(w))
    predictable = model.cfg.output_token_ids
    ids = [single_token(model.tokenizer, w, predictable) for w in words]
    heads, mode = request.heads, request.mode
    trace = last_trace
    if heads:  # the lens's knock-out, so the lines follow the ladder above them
        with knocked_out(model.module, heads, mode, _means(model, heads, mode)):
            trace = model.trace(text)
    elif trace is None or trace.text != text or trace.model_name != model.name:
        trace = model.trace(text)
    return TokenLensResult(text, words, token_lens(model.module, trace.resid_post, request.position, ids))


@handles(rq.Character)
def character(model: TracingModel, request: rq.Character, last_trace: Trace | None = None, memo=None):
    """Finish the character a sampled byte token left incomplete."""
    from model.tracer.generation import finish_character

    return finish_character(model, request.text, list(request.tokens), request.temperature, request.top_k,
                            request.top_p, request.seed)


@handles(rq.Exact)
def exact(model: TracingModel, request: rq.Exact, last_trace: Trace | None = None, memo=None) -> Trace:
    """Float32's trace of the text (the live one when the model runs float32)."""
    return model.exact_trace(request.text)


def run(model: TracingModel, request: Analysis, last_trace: Trace | None = None, memo: dict | None = None):
    """A one-step analysis, by its request's type (:data:`HANDLERS`)."""
    handler = HANDLERS.get(type(request))
    if handler is None:
        raise ValueError(f"no one-step analysis handles {type(request).__name__}")
    return handler(model, request, last_trace, memo)


@handles(rq.Sweep, job=True)
def sweep_job(model: TracingModel, request: rq.Sweep,
              last_trace: Trace | None = None) -> Iterator[tuple[int, int, SweepOutcome | None]]:
    text = request.text
    ids = model.encode(text)[0].ids
    position = request.position % len(ids)
    token = request.token
    if token is None:
        token = int(np.argmax(knockout_logits(model.module, ids, [], position)))
    mode = request.mode
    means = model.reference_means() if mode == "mean" else None
    for done, total, result in sweep_steps(model.module, ids, int(token), position, mode,
                                           request.batch, _resid_pre(model, ids, last_trace),
                                           means):
        if result is None:
            yield done, total, None
        else:
            yield done, total, SweepOutcome(text, result.token, position, mode, result.base_logprob, result.delta)


@handles(rq.Badges, job=True)
def badges_job(model: TracingModel, request: rq.Badges | None = None, last_trace: Trace | None = None) -> Iterator:
    texts = probe_ids(lambda t: model.encode(t)[0].ids, model.max_tokens)
    yield from badge_steps(model.module, texts, candidate_ids(model.module))


@handles(rq.Saliency, job=True)
def saliency_job(model: TracingModel, request: rq.Saliency, last_trace: Trace | None = None) -> Iterator:
    """Gradient × input and integrated gradients (``steps``) of the target (default: the top
    prediction) minus ``contrast`` at ``position``, a chunk of integration points per step;
    ``clear``: no scores (the shading is switched off)."""
    text = request.text
    if request.clear:
        yield 1, 1, SaliencyResult(text, None)
        return
    ids = model.encode(text)[0].ids
    position = request.position % len(ids)
    target = request.target
    if target is None:
        target = int(np.argmax(knockout_logits(model.module, ids, [], position)))
    contrast_text = request.contrast or ""
    contrast = single_token(model.tokenizer, contrast_text) if contrast_text.strip() else None
    baseline = default_baseline(model.module)
    pad = model.tokenizer.token_to_id("[PAD]") or model.tokenizer.token_to_id("<pad>") or 0
    for done, total, result in saliency_steps(model.module, ids, position, int(target), contrast,
                                              request.steps, baseline, pad):
        yield done, total, None if result is None else SaliencyResult(text, result)


def job_steps(model: TracingModel, request: Analysis, last_trace: Trace | None = None) -> Iterator:
    """A long job's steps, one forward pass or so per step, by its request's type
    (:data:`JOB_HANDLERS`)."""
    handler = JOB_HANDLERS.get(type(request))
    if handler is None:
        raise ValueError(f"no long job handles {type(request).__name__}")
    return handler(model, request, last_trace)
