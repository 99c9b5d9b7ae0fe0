"""``attention-explorer export``: a figure or a CSV of one view, without opening a window.

    attention-explorer export --text "the cat sat on the mat" --view head:1.2 --out head.svg

It builds the same panel the window shows, feeds it one trace computed synchronously on this
thread (no worker: nothing else is waiting), and writes it with :func:`explorer.export.export_panel`.
Qt runs offscreen, so no window ever appears and the result does not depend on the screen.
Bad input ends the process with status 2 and one line on stderr saying what was wrong; a
successful export prints the path it wrote.

The views are the panel registry's (:mod:`explorer.views.registry`: each panel's export views,
their numbers, options and the scene state the options set, applied with the panel's own
``apply_scene`` as a lesson applies it). What this module adds is how each view gets its data
(:data:`FEEDS`: the model calls the model thread would make). Adding an option is one
``add_argument`` in :func:`build_parser` and its name in the views' ``options`` that read it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from explorer.export import ExportError, export_format
from explorer.names import HEAD_MODES, STAGES, HeadMode, Stage
from explorer.scene_schema import MAX_POSITION, MAX_TOP_K
from explorer.views.registry import ExportView, PanelEntry, export_views, split_prompts

DEFAULT_SIZE = (1200, 800)  # the panel's size on the (offscreen) screen, in logical pixels


@dataclass
class Job:
    """Everything one export needs once the arguments are checked and the model is loaded."""

    args: argparse.Namespace
    numbers: tuple[int, ...]  # the view's own arguments: head:1.2 -> (1, 2)
    model: object = None  # model.tracer.runner.TracingModel
    info: object = None  # model.core.info.ModelInfo
    trace: object = None  # model.core.trace.Trace of --text


@dataclass(frozen=True)
class ViewSpec:
    """One ``--view``: the registry's :class:`~explorer.views.registry.ExportView` (name, numbers,
    options, scene state), the panel that draws it, and how its data reaches the panel."""

    view: ExportView
    panel: Callable[[], type]  # imported lazily: building the parser must stay cheap
    #: feeds the panel its data; default: the trace of --text
    feed: Callable[[object, Job], None] = field(default=lambda panel, job: panel.set_trace(job.trace))

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def help(self) -> str:
        return self.view.help

    @property
    def arguments(self) -> tuple[str, ...]:
        return self.view.arguments

    @property
    def usage(self) -> str:
        return self.view.usage

    def scene(self, args: argparse.Namespace) -> dict:
        """The panel's scene state the command's options ask for."""
        try:
            return self.view.scene(args)
        except ValueError as exc:
            raise ExportError(str(exc)) from None


# ---------------------------------------------------------------------- the views
def _panel(entry: PanelEntry) -> Callable[[], type]:
    def panel() -> type:
        try:
            return entry.panel_class()
        except (ImportError, AttributeError, TypeError):
            raise ExportError(f"this version of the app has no {entry.key!r} view") from None

    return panel


def _answer(panel, job: Job, request, last_trace=None) -> None:
    """Run ``request`` (a model.work.requests dataclass) here, synchronously, through the same
    handler the model thread uses (a long job to its last step), and give the panel its answer."""
    from model.work import probes

    if type(request).job:
        *_, (_done, _total, result) = probes.job_steps(job.model, request, last_trace)  # the last step carries it
    else:
        result = probes.run(job.model, request, last_trace)
    panel.set_work_result(request, result)


def _feed_lens(panel, job: Job) -> None:
    from model.work import requests as rq

    panel.set_trace(job.trace)
    heads = _ablated(job)
    _answer(panel, job, rq.Lens(job.trace.text, heads=heads, mode=job.args.ablation_mode), None if heads else job.trace)


def _feed_next(panel, job: Job) -> None:
    from model.work import requests as rq

    panel.set_trace(job.trace)
    heads = _ablated(job)
    if heads:
        _answer(panel, job, rq.Ablate(job.trace.text, heads=heads, mode=job.args.ablation_mode,
                                      position=panel.selection.query_index(job.trace.n_tokens)))


def _feed_roles(panel, job: Job) -> None:
    from model.work import requests as rq

    panel.set_trace(job.trace)
    _answer(panel, job, rq.Badges())


def _ablated(job: Job) -> tuple:
    from model.analysis.ablation import check_heads, parse_heads

    if not job.args.ablate:
        return ()
    try:
        heads = parse_heads(job.args.ablate)
        check_heads(heads, job.info.n_layers, job.info.n_heads)
    except ValueError as exc:
        raise ExportError(f"--ablate: {exc}") from None
    return heads


def _feed_drift(panel, job: Job) -> None:
    """The sentences traced here; the word and the sentences are the panel's scene state."""
    from model.core.errors import EmptyInputError

    sentences = tuple(panel.scene_values()["drift_sentences"])
    try:
        traces = tuple(job.model.trace(text) for text in sentences)
    except EmptyInputError as exc:
        raise ExportError(str(exc)) from exc
    panel.set_batch_traces(sentences, traces)
    if not panel.paths:  # the panel said why (a sentence without the word) in its message line
        raise ExportError(panel.message.text() or "the drift could not be computed")


def _feed_ab(panel, job: Job) -> None:
    """Prompt A is --text's first, prompt B the panel's scene state (its second)."""
    from model.core.errors import EmptyInputError

    prompt_a, prompt_b = split_prompts(job.args.text)[0], panel.scene_values()["prompt_b"]
    try:
        trace_a, trace_b = job.model.trace(prompt_a), job.model.trace(prompt_b)
    except EmptyInputError as exc:
        raise ExportError(str(exc)) from exc
    panel.set_trace(trace_a)
    panel.set_batch_traces((prompt_b,), (trace_b,))


def _feed_dla(panel, job: Job) -> None:
    """Direct logit attribution, computed here as the model thread computes it."""
    from model.analysis.dla import single_token
    from model.work import probes
    from model.work import requests as rq

    panel.set_trace(job.trace)
    try:
        target = single_token(job.model.tokenizer, job.args.target) if job.args.target else None
        if job.args.contrast:  # the panel's contrast box holds it (scene state); it must be one token
            single_token(job.model.tokenizer, job.args.contrast)
    except ValueError as exc:
        raise ExportError(f"--target/--contrast: {exc}") from None
    request = rq.Dla(job.trace.text, position=job.args.query, target=target, contrast=job.args.contrast or "")
    try:  # the model may have no attribution to give (opened generically: model/formats/generic.py)
        result = probes.run(job.model, request, job.trace)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    panel.set_selection(panel.selection.with_(target=result.target))
    panel.set_work_result(request, result)


def _feed_graph(panel, job: Job) -> None:
    """The contribution graph, computed here as the model thread computes it."""
    from model.work import requests as rq

    panel.set_trace(job.trace)
    try:
        _answer(panel, job, rq.Flow(job.trace.text), job.trace)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def _feed_saliency(panel, job: Job) -> None:
    """Input saliency, computed here as the model thread computes it (--steps points)."""
    from model.analysis.dla import single_token
    from model.work import requests as rq

    panel.set_trace(job.trace)
    try:
        target = single_token(job.model.tokenizer, job.args.target) if job.args.target else None
        if job.args.contrast:
            single_token(job.model.tokenizer, job.args.contrast)
    except ValueError as exc:
        raise ExportError(f"--target/--contrast: {exc}") from None
    try:  # the model may have no saliency to give (opened generically: model/formats/generic.py)
        _answer(panel, job, rq.Saliency(job.trace.text, position=job.args.query, target=target,
                                        contrast=job.args.contrast or "", steps=job.args.steps))
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def _feed_step(panel, job: Job) -> None:
    """The step-through: the trace, and for a stage after ΔE the rest of the block, computed
    here as the model thread computes it."""
    from model.work import requests as rq

    panel.set_trace(job.trace)
    sel = panel.selection
    try:
        _answer(panel, job, rq.Block(job.trace.text, layer=sel.layer, query=sel.query_index(job.trace.n_tokens),
                                     head=sel.head, target=sel.target), job.trace)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


#: How each view gets its data, where that is more than the trace of --text.
FEEDS: dict[str, Callable[[object, Job], None]] = {
    "next": _feed_next, "lens": _feed_lens, "drift": _feed_drift, "roles": _feed_roles, "ab": _feed_ab,
    "dla": _feed_dla, "graph": _feed_graph, "saliency": _feed_saliency, "step": _feed_step,
}
#: Every ``--view``, from the panel registry.
VIEWS: dict[str, ViewSpec] = {name: ViewSpec(view, _panel(entry), **({"feed": FEEDS[name]} if name in FEEDS else {}))
                              for name, (entry, view) in export_views().items()}
if not set(FEEDS) <= set(VIEWS):
    raise ValueError(f"feeds for views the registry does not name: {sorted(set(FEEDS) - set(VIEWS))}")


def drift_sentences(text: str) -> tuple[str, ...]:
    """The prompts of --text (kept for callers of the old name)."""
    return split_prompts(text)


# ---------------------------------------------------------------------- arguments
class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line, like every other bad input (argparse prints the usage too)."""

    def error(self, message: str):
        raise ExportError(message)


MAX_SCALE = 4.0  # text 4× larger than body text is already a few words per screen


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not 0 < value <= MAX_SCALE:  # also refuses inf and nan
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most {MAX_SCALE:g}, not {text}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1200x800, not {text!r}") from None
    if not (100 <= w <= 8000 and 100 <= h <= 8000):
        raise argparse.ArgumentTypeError(f"{text}: each side must be 100–8000 pixels")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    from model.loading import BUNDLED

    views = ", ".join(spec.usage for spec in VIEWS.values())
    parser = _Parser(prog="attention-explorer export",
                     description="Write one view as PNG, SVG or CSV (from --out's extension) without a window.")
    parser.add_argument("--text", required=True, help="the text to trace (drift: sentences separated by '|'; ab: 'prompt A | prompt B')")
    parser.add_argument("--model", default=BUNDLED, metavar="SOURCE", help="as for attention-explorer --model")
    parser.add_argument("--view", required=True, help=f"one of: {views}")
    parser.add_argument("--out", required=True, type=Path, help="FILE.png, FILE.svg or FILE.csv")
    look = parser.add_argument_group("look")
    look.add_argument("--theme", choices=("light", "dark"), default="light",
                      help="light (default: for paper and slides) or dark (as on the projector)")
    look.add_argument("--scale", type=_ratio, default=1.0, help="text scale: 1.5 makes text 50%% larger")
    look.add_argument("--size", type=_size, default=DEFAULT_SIZE, metavar="WxH",
                      help="the view's layout size in logical pixels (default %(default)s)")
    look.add_argument("--width", type=int, default=None,
                      help="the PNG's width in pixels (default: twice the view's width)")
    selection = parser.add_argument_group("selection")
    selection.add_argument("--query", type=int, default=-1,
                           help="query position for head and next (negative counts from the end; default -1)")
    selection.add_argument("--stage", choices=[s.value for s in STAGES], default=Stage.OUTPUT.value,
                           help="step: the stage shown (the block's stages after ΔE need the model: a PNG, not the CSV)")
    head = parser.add_argument_group("head view")
    head.add_argument("--mode", choices=[m.value for m in HEAD_MODES], default=HeadMode.PATTERN.value)
    head.add_argument("--3b1b", dest="three_blue_one_brown", action="store_true",
                      help="3Blue1Brown layout: keys as rows, one column per query")
    head.add_argument("--hide-first", action="store_true", help="drop the first token and renormalise")
    nxt = parser.add_argument_group("next view")
    nxt.add_argument("--temperature", type=float, default=1.0, help="0–2.5 (default 1)")
    nxt.add_argument("--top-k", type=int, default=0, help="keep the k most likely tokens (0: off)")
    nxt.add_argument("--top-p", type=float, default=1.0, help="keep the most likely tokens up to this mass (1: off)")
    poke = parser.add_argument_group("knock-out (next and lens views)")
    poke.add_argument("--ablate", default="", metavar="L.H[,L.H…]", help="heads to knock out, e.g. 1.2,0.3")
    poke.add_argument("--ablation-mode", choices=("zero", "mean"), default="zero",
                      help="zero the heads' outputs or replace them by their mean output over a few "
                           "fixed reference sentences (the same at every position)")
    who = parser.add_argument_group("dla view")
    who.add_argument("--target", default=None, metavar="TOKEN", help="the token whose logit is attributed "
                     "(one token, e.g. ' Mary'; default: the top prediction)")
    who.add_argument("--contrast", default=None, metavar="TOKEN", help="attribute --target minus this token's logit")
    who.add_argument("--steps", type=int, default=32, help="saliency: integrated gradients' points (1-512)")
    who.add_argument("--threshold", type=float, default=None, help="graph: the smallest edge shown (0.01-0.5)")
    drift = parser.add_argument_group("drift view")
    drift.add_argument("--word", default=None, help="the word the sentences share")
    return parser


def parse_view(text: str) -> tuple[ViewSpec, tuple[int, ...]]:
    """``head:1.2`` -> (the head view, (1, 2))."""
    name, _, rest = text.partition(":")
    spec = VIEWS.get(name.strip().lower())
    if spec is None:
        raise ExportError(f"unknown view {text!r}: use one of {', '.join(s.usage for s in VIEWS.values())}")
    if not spec.arguments:
        if rest:
            raise ExportError(f"the {spec.name} view takes no numbers: write --view {spec.name}")
        return spec, ()
    parts = rest.split(".") if rest else []
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != len(spec.arguments):
        raise ExportError(f"write the {spec.name} view as --view {spec.usage}, e.g. "
                          f"{spec.name}:{'.'.join(['1', '2', '-1'][: len(spec.arguments)])}; got {text!r}")
    return spec, numbers


def check_arguments(args: argparse.Namespace) -> None:
    """What can be checked before the (slow) model load."""
    if not args.text.strip():
        raise ExportError("--text is empty: give the text to trace")
    export_format(args.out)
    limit = _name_limit(args.out.parent if str(args.out.parent) else Path("."))
    if len(os.fsencode(args.out.name)) > limit:
        raise ExportError(f"cannot write {str(args.out)[:60]}…: the file name is longer than this file system "
                          f"allows ({limit} bytes)")
    folder = args.out.parent if str(args.out.parent) else Path(".")
    if args.out.is_dir():
        raise ExportError(f"cannot write {args.out}: it is a folder")
    if not folder.is_dir():
        raise ExportError(f"cannot write {args.out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {args.out}: the folder {folder} is not writable")
    if args.width is not None and not 1 <= args.width <= 16384:
        raise ExportError(f"--width must be between 1 and 16384 pixels, not {args.width}")
    if not 0.0 <= args.temperature <= 2.5:
        raise ExportError(f"--temperature must be between 0 and 2.5, not {args.temperature}")
    if not 0 <= args.top_k <= MAX_TOP_K:  # the panel's spin box holds a C int
        raise ExportError(f"--top-k must be 0 (off) to {MAX_TOP_K}, not {args.top_k}")
    if not -MAX_POSITION <= args.query <= MAX_POSITION:
        raise ExportError(f"--query must be between -{MAX_POSITION} and {MAX_POSITION}, not {args.query}")
    if args.threshold is not None and not 0.01 <= args.threshold <= 0.5:
        raise ExportError(f"--threshold must be between 0.01 and 0.5, not {args.threshold}")
    if not 1 <= args.steps <= 512:
        raise ExportError(f"--steps must be 1 to 512, not {args.steps}")
    if not 0.0 < args.top_p <= 1.0:
        raise ExportError(f"--top-p must be in (0, 1], not {args.top_p}")


def _name_limit(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _check_in_range(what: str, value: int, count: int, unit: str, allow_negative: bool = False) -> int:
    low = -count if allow_negative else 0
    if not low <= value < count:
        span = f"{low}..{count - 1}" if allow_negative else f"0..{count - 1}"
        raise ExportError(f"{what} {value} is out of range: {unit} ({span})")
    return value


# ---------------------------------------------------------------------- running
def _application(args: argparse.Namespace):
    # Set before the QApplication exists: no window may appear, and the picture must not
    # depend on the screen (its DPI, its fonts' hinting) of whoever runs the command.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["attention-explorer"])
    _quiet_offscreen_warnings()
    from explorer import theme

    look = theme.make_theme(args.theme, max(6, round(theme.DEFAULT_POINT_SIZE * args.scale)))
    theme.apply_to_app(app, look)
    return app, look


_quieted = False


def _quiet_offscreen_warnings() -> None:
    """The offscreen platform warns that it "does not support propagateSizeHints()" for every
    window shown: noise on stderr, where a failed export's one line goes."""
    global _quieted
    if _quieted:
        return
    _quieted = True
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message: str) -> None:
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)


def run(args: argparse.Namespace) -> Path:
    """Check, load, trace, draw, write. Raises :class:`ExportError` with a one-line reason."""
    spec, numbers = parse_view(args.view)
    check_arguments(args)
    if args.ablate and "ablate" not in spec.view.options:
        readers = [s.name for s in VIEWS.values() if "ablate" in s.view.options]
        raise ExportError(f"--ablate works with the {' and '.join(readers)} views, not {spec.name}")
    state = spec.scene(args)  # the panel's controls as the options set them (checked before the load)
    app, look = _application(args)
    from explorer import runtime
    from explorer.export import export_panel
    from explorer.views.base import Selection
    from model.core.errors import EmptyInputError
    from model.loading import load_tracing_model

    runtime.configure_process(freeze_after_load=False)
    runtime.configure_torch()  # the export loads and runs the model on this thread
    panel_class = spec.panel()  # before the load: a view this build lacks fails fast
    try:
        model = load_tracing_model(args.model)
    except Exception as exc:  # a ModelFileError names the file; anything else is just as fatal
        raise ExportError(f"could not load the model {args.model!r}: {' '.join(str(exc).split())}") from exc
    info = model.info(source=str(args.model))
    job = Job(args, numbers, model, info)
    values = dict(zip(spec.arguments, numbers, strict=True))
    layer, head = values.get("layer", 0), values.get("head", 0)
    query = values.get("query", args.query)
    if "layer" in values:
        _check_in_range("layer", layer, info.n_layers, f"{info.name} has {info.n_layers} layers")
    if "head" in values:
        _check_in_range("head", head, info.n_heads, f"{info.name} has {info.n_heads} heads per layer")
    if not spec.view.prompts:  # a view of several prompts traces them itself
        try:
            n = len(model.encode(args.text)[0])
            _check_in_range("query position", query, n, f"the text has {n} tokens", allow_negative=True)
            job.trace = model.trace(args.text, logit_positions=sorted({query % n, n - 1}))
        except EmptyInputError as exc:
            raise ExportError(str(exc)) from exc

    panel = panel_class()
    panel.apply_theme(look)  # as the window does for every panel it adds
    panel.resize(*args.size)
    panel.set_model_info(info)
    ablated = frozenset(_ablated(job)) if "ablate" in spec.view.options else frozenset()
    panel.set_selection(Selection(layer=layer, head=head, query=query, stage=state.get("stage", 0), ablated=ablated,
                                  ablation_mode=args.ablation_mode))
    problems = panel.apply_scene(state)  # the panel's own controls, set as a lesson sets them
    if problems:
        raise ExportError("; ".join(problems))
    panel.show()
    app.processEvents()  # lay the panel out at its size before it draws
    spec.feed(panel, job)
    panel.refresh(force=True)
    app.processEvents()
    try:
        from explorer.picture_title import panel_title

        return export_panel(panel, args.out, args.width, panel_title(panel, info.name, args.text))
    finally:
        panel.close()
        panel.deleteLater()
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)


def main(argv: list[str]) -> int:
    """``attention-explorer export ARGS``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        path = run(args)
    except ExportError as exc:
        print(f"attention-explorer export: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused the write (full disk, a name it cannot hold, …)
        print(f"attention-explorer export: cannot write {exc.filename or 'the file'}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    print(path)
    return 0
