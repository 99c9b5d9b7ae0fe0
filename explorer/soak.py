"""Hammer the real window with random edits and UI actions; report what broke.

``python -m explorer.soak --edits 5000 --seed 1`` types, deletes and pastes hostile text
(lone surrogates, NUL, right-to-left marks, CJK, emoji, long pastes) into the text box,
interleaved with random UI actions (select a token, a head, a tab, a head-view mode, the
theme, the temperature, sample, generate, stop), and prints:

* exceptions that reached ``sys.excepthook`` (a slot or event handler raised);
* convergence: after every burst the screen catches up with the text in the box;
* RSS growth per 1,000 updates after a warm-up, and the thread count.

The same code runs a short seeded soak in the test suite (``tests/explorer/test_soak.py``).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HOSTILE = [
    "the king and the queen", "a fluffy blue creature", " ", "\n", "\t", "\x00", "\ud800", "\udfff",
    "\u202e", "\u200d", "日本語の文章", "注意力", "😀🧠", "👩\u200d👩\u200d👧", "e\u0301", "ﷺ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "mole", "tower", ".", "'", "--", "ÅÄÖ", "\uffff", "\U0010ffff", "<|endoftext|>", "[CLS]", "[UNK]",
]


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def anon_mb() -> float | None:
    """The private anonymous part of RSS (heap, arrays, caches): what a leak grows. The rest is
    mapped files (libraries, fonts: clean pages the kernel can drop and other processes share).
    None where /proc does not say."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def settle(app) -> None:
    """One turn of the event loop as ``exec()`` runs it: pending events, then the objects given
    to ``deleteLater()``. A bare ``processEvents()`` outside ``exec()`` never deletes those
    (Qt's clear-button fade animations piled up in the soak, not in the app)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    app.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@dataclass
class SoakReport:
    edits: int = 0
    actions: int = 0
    updates: int = 0
    exceptions: list[str] = field(default_factory=list)
    not_converged: list[str] = field(default_factory=list)
    rss: list[tuple[int, float]] = field(default_factory=list)  # (updates, MB)
    #: (edits, updates, RSS, RSS retained, anonymous RSS retained) in MB; "retained": after a
    #: garbage collection and malloc_trim, what is still held (the model thread trims every 50
    #: traces anyway; raw RSS swings by 100+ MB with freed arrays not yet given back)
    samples: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    threads: int = 0
    by_action: dict[str, int] = field(default_factory=dict)

    def sample(self) -> None:
        import gc

        from model.core.memory import trim_native_heap

        raw = rss_mb()
        gc.collect()
        trim_native_heap()
        retained, anon = rss_mb(), anon_mb()
        self.rss.append((self.updates, raw))
        self.samples.append((self.edits, self.updates, raw, retained, retained if anon is None else anon))

    def growth_per_1000(self, warm_up: int, column: int = 2, per: int = 1) -> float:
        """Growth per 1,000 updates (``per=1``; per 1,000 edits with ``per=0``) after the
        first ``warm_up`` updates: the least-squares slope of RSS (``column=2``), RSS retained
        (3) or its anonymous part (4); see :attr:`samples`."""
        points = [(s[per], s[column]) for s in self.samples if s[1] >= warm_up]
        if len(points) < 2 or points[-1][0] == points[0][0]:
            return 0.0
        import numpy as np

        x, m = np.array(points, dtype=float).T
        return float(np.polyfit(x, m, 1)[0] * 1000.0)


def random_edit(rng: random.Random, text: str) -> str:
    kind = rng.random()
    pos = rng.randint(0, len(text))
    if kind < 0.45:
        return text[:pos] + rng.choice(HOSTILE) + text[pos:]
    if kind < 0.75:
        end = min(len(text), pos + rng.randint(1, 8))
        return text[:pos] + text[end:]
    if kind < 0.78:
        n = rng.choice((2_000, 10_000, 40_000))
        return "".join(rng.choice(HOSTILE) for _ in range(n // 8))[:n]
    if kind < 0.82:
        return ""
    return text + rng.choice((" ", "")) + rng.choice(HOSTILE)


TEXT_SIZES = (10, 13, 16, 20, 26)  # the text sizes the soak sets (points)

def _units(text: str) -> int:
    """Length in UTF-16 code units: QLineEdit's positions."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def type_edit(box, old: str, new: str) -> None:
    """Turn ``old`` (the box's text) into ``new`` as a person does: select what changes and
    type, paste or delete over it. QLineEdit records that for Ctrl+Z, as it does typing;
    ``setText()`` (what the soak did) empties the record, so the soak never saw it grow."""
    from explorer.qtext import BYTE_ORDER_MARKS, for_qt

    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    q = 0
    while q < min(len(old), len(new)) - p and old[-1 - q] == new[-1 - q]:
        q += 1
    inserted = new[p:len(new) - q]
    if p == 0 and inserted.startswith(BYTE_ORDER_MARKS):  # Qt would read it as a byte-order mark
        box.setText(for_qt(new))
        return
    start, removed = _units(old[:p]), _units(old[p:len(old) - q])
    if removed:
        box.setSelection(start, removed)
    else:
        box.setCursorPosition(start)
    box.insert(inserted)


#: What :func:`random_action` can do, by name (the soak's report counts each).
ACTIONS = ("token", "head", "tab", "head mode", "3b1b", "hide first", "temperature", "sample", "generate/stop",
           "theme", "text size", "knock-out", "knock-out mode", "sweep", "lens", "a/b", "patch", "stage",
           "rollout", "badges", "lesson", "language", "colour map", "target", "menus")


@functools.lru_cache(maxsize=4)
def same_model_lessons(source: str) -> tuple[Path, ...]:
    """The shipped lessons whose every scene uses ``source``: a scene on another model starts a
    load (SmolLM2, Gemma 3, a worked example) that stopping the lesson does not undo, and the
    soak then measured that model's gigabyte instead of the window."""
    from explorer.lesson_file import LessonError, load_lesson, shipped_lessons

    kept = []
    for path in shipped_lessons():
        try:
            lesson = load_lesson(path)
        except LessonError:
            continue
        if all(scene.get("model", "bundled") == source for scene in lesson.scenes):
            kept.append(path)
    return tuple(kept)


def random_action(rng: random.Random, window, name: str | None = None) -> str:
    """One random UI action on ``window``, as a person would do it; returns its name. Covers
    every panel, tool and setting (issue #31: memory grew with UI actions, not with edits).
    ``name``: that action, now (the slow ones otherwise happen only now and then)."""
    from explorer.names import HEAD_MODES, STAGES

    trace, info = window.trace, window.model_info
    rare = (lambda _p: True) if name is not None else (lambda p: rng.random() < p)
    name = name or rng.choice(ACTIONS)
    grid = window.heads_grid
    if name == "token" and trace is not None:
        window.select_position(rng.randrange(-1, trace.n_tokens))
    elif name == "head" and info is not None:
        window.select_head(rng.randrange(info.n_layers), rng.randrange(info.n_heads))
    elif name == "tab":
        window.tabs.setCurrentIndex(rng.randrange(window.tabs.count()))
    elif name == "head mode":
        window.head_detail.set_mode(rng.choice(HEAD_MODES))
    elif name == "3b1b":
        window.head_detail.transpose_box.toggle()
    elif name == "hide first":
        window.head_detail.hide_first_box.toggle()
    elif name == "temperature":
        window.next_token.set_temperature(rng.choice((0.0, 0.5, 1.0, 2.5)))
    elif name == "sample":
        window.next_token.sample_next()
    elif name == "generate/stop":
        window.next_token.generate(rng.randint(1, 3)) if rng.random() < 0.5 else window.next_token.stop()
    elif name == "theme" and rare(0.2):
        window.toggle_theme()
    elif name == "text size" and rare(0.2):
        window.set_font_size(rng.choice(TEXT_SIZES))
    elif name == "knock-out" and info is not None:
        heads = frozenset((rng.randrange(info.n_layers), rng.randrange(info.n_heads)) for _ in range(rng.randrange(3)))
        window.set_selection(window.selection.with_(ablated=heads))
    elif name == "knock-out mode":
        grid.controls.mode.setCurrentIndex(rng.randrange(grid.controls.mode.count()))
    elif name == "sweep":
        grid.controls.cancel.click() if rng.random() < 0.3 else grid.start_sweep()
    elif name == "lens":
        window.show_tab(window.panel("lens"))
    elif name in ("a/b", "patch"):
        ab = window.panel("ab")
        window.show_tab(ab)
        ab.text_b.setText(rng.choice(HOSTILE) + " the queen")
        ab.compare() if name == "a/b" else ab.patch_selected()
    elif name == "stage":
        window.show_tab(window.step_through)
        window.set_selection(window.selection.with_(stage=rng.randrange(len(STAGES))))
    elif name == "rollout":
        grid.controls.rollout.toggle()
    elif name == "badges":
        grid.controls.badges.toggle()
    elif name == "lesson" and rare(0.1):
        if window.player.playing and rng.random() < 0.5:
            window.player.stop()
        else:
            lessons = same_model_lessons(window.current_source or "bundled")
            if lessons and window.start_lesson(rng.choice(lessons)):
                window.player.go(rng.randrange(len(window.player.lesson.scenes)))
                window.player.stop()
    elif name == "language" and rare(0.1):
        window.set_language("zh_CN" if window.language != "zh_CN" else "en")
    elif name == "colour map" and rare(0.2):
        window.set_colour_map(rng.choice(("viridis", "cividis")))
    elif name == "menus":  # opened: each rebuilds its entries (the Model menu rescans the disk: not here)
        window.lessons_menu.aboutToShow.emit()
        corner = window.tabs.cornerWidget()
        if corner is not None and corner.menu() is not None:
            corner.menu().aboutToShow.emit()
    elif name == "target" and trace is not None and info is not None:
        window.set_selection(window.selection.with_(target=rng.choice((None, rng.randrange(info.vocab_size)))))
    return name


def soak(window, app, edits: int, seed: int, report_every: int = 250, deadline_s: float | None = None,
         action_rate: float = 0.3) -> SoakReport:
    """Run ``edits`` random edits (plus actions) on ``window``; see the module docstring."""

    rng = random.Random(seed)
    report = SoakReport()
    hook_before = sys.excepthook

    def hook(kind, value, tb):
        report.exceptions.append(f"{kind.__name__}: {value}")

    def count_update(_trace) -> None:
        report.updates += 1

    sys.excepthook = hook
    window.worker.trace_ready.connect(count_update)
    start = time.perf_counter()
    try:
        text = window.text_box.text()
        for i in range(edits):
            type_edit(window.text_box, window.text_box.text(), random_edit(rng, text))
            text = window.text_box.text()  # Qt may replace lone surrogates
            report.edits += 1
            if rng.random() < action_rate:
                name = random_action(rng, window)
                report.actions += 1
                report.by_action[name] = report.by_action.get(name, 0) + 1
                text = window.text_box.text()  # an action may append a sampled token
            settle(app)
            if i % 20 == 19:
                window.next_token.stop()  # generation would keep changing the text
                if not converge(window, app):
                    report.not_converged.append(window.text_box.text()[:60])
                text = window.text_box.text()
            if i % report_every == 0:
                report.sample()
            if deadline_s is not None and time.perf_counter() - start > deadline_s:
                break
        window.next_token.stop()
        if not converge(window, app):
            report.not_converged.append(window.text_box.text()[:60])
        report.sample()
    finally:
        sys.excepthook = hook_before
        window.worker.trace_ready.disconnect(count_update)
    report.threads = threading.active_count()
    return report


def warm_up_every_panel(window, app) -> None:
    """Build and show every tab once, in every theme, text size, colour map and language the
    soak uses: what each of them lays out, caches and maps (a font, a document, a tab's
    widgets) the first time is not growth. Random tab choice reached the last tab only after
    about 3,000 edits, and counted its first build as a leak."""
    window.finish_building()
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        converge(window, app)
    window.tabs.setCurrentIndex(0)
    size = window.point_size
    for change in (window.toggle_theme, window.toggle_theme,
                   *(lambda s=s: window.set_font_size(s) for s in TEXT_SIZES), lambda: window.set_font_size(size),
                   lambda: window.set_colour_map("cividis"), lambda: window.set_colour_map("viridis"),
                   lambda: window.set_language("zh_CN"), lambda: window.set_language("en")):
        change()
        converge(window, app)


def converge(window, app, timeout_s: float = 20.0) -> bool:
    """True once the trace on screen is the trace of the text in the box (or the model
    reported why it cannot trace it)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        settle(app)
        if window.worker.is_idle():
            settle(app)
            trace = window.trace
            if trace is not None and trace.text == window.text_box.text():
                return True
            if window.banner.property("error"):
                return True  # an error the person can read is an answer
        time.sleep(0.002)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--warm-up", type=int, default=1000, help="updates before RSS growth is measured")
    parser.add_argument("--sample-every", type=int, default=100, help="edits between two memory samples")
    parser.add_argument("--action-rate", type=float, default=0.3, help="chance of a UI action after each edit")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from explorer import runtime
    from explorer.window import MainWindow

    app = QApplication.instance() or QApplication(["attention-explorer-soak"])
    runtime.configure_process()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "soak.ini"), QSettings.IniFormat)
    window = MainWindow(source=args.model, settings=settings, initial_text="the king and the queen")
    window.resize(1280, 720)
    window.show()
    if not converge(window, app, 60):
        print("the model did not answer:", window.banner.text())
        return 1
    warm_up_every_panel(window, app)
    start = time.perf_counter()
    report = soak(window, app, args.edits, args.seed, report_every=args.sample_every, action_rate=args.action_rate)
    elapsed = time.perf_counter() - start
    print(f"edits {report.edits}, UI actions {report.actions}, screen updates {report.updates}, {elapsed:.0f} s")
    print(f"exceptions: {len(report.exceptions)}")
    for line in report.exceptions[:20]:
        print("  ", line)
    print(f"did not converge: {len(report.not_converged)}")
    warm_up = args.warm_up
    if report.updates < 2 * warm_up:  # a warm-up longer than half the run measures nothing
        warm_up = report.updates // 4
        print(f"(only {report.updates} updates: warm-up cut to {warm_up})")
    measured = [s for s in report.samples if s[1] >= warm_up]
    first, last = report.samples[0], report.samples[-1]
    print(f"RSS {first[2]:.0f} -> {last[2]:.0f} MB, retained {first[3]:.0f} -> {last[3]:.0f} MB "
          f"(anonymous {first[4]:.0f} -> {last[4]:.0f} MB); after a warm-up of {warm_up} updates, "
          f"{len(measured)} samples over {measured[-1][1] - measured[0][1] if measured else 0} updates and "
          f"{measured[-1][0] - measured[0][0] if measured else 0} edits:")
    for label, column in (("RSS", 2), ("RSS retained", 3), ("anonymous RSS retained", 4)):
        per_update, per_edit = report.growth_per_1000(warm_up, column), report.growth_per_1000(warm_up, column, per=0)
        print(f"  {label}: {per_update:+.1f} MB per 1,000 updates ({5 * per_update:+.1f} per 5,000 updates), "
              f"{5 * per_edit:+.1f} MB per 5,000 edits")
    print("actions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.by_action.items(), key=lambda kv: -kv[1])))
    print(f"threads: {report.threads}")
    window.close()
    return 0 if not report.exceptions and not report.not_converged else 1


if __name__ == "__main__":
    raise SystemExit(main())
