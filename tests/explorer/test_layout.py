"""Every tab readable on a projector (issue #32): at 1024 × 768 and 1280 × 720, with text at
1×, 1.5× and 2×, every label a view draws is inside its view and clear of every other label,
no control is cut or out of reach, and no tab scrolls sideways (docs/layout.md). At 1× and
1.5× nothing scrolls at all; at 2× a tab may scroll up and down, its chart never shorter than
five lines of text. The checks are in ``layout_check.py``; ``python -m
tests.explorer.layout_check`` prints them for a person."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

from explorer.names import HEAD_STAGES, STAGES, Stage
from model.core.paths import BUNDLED
from tests.explorer import layout_check

TEXT = "a fluffy blue creature roamed the verdant forest"
SIZES = ((1024, 768), (1280, 720))
POINTS = (13, 20, 26)  # 1×, 1.5× (Ctrl+= three times gives 19), 2×


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """One window with the bundled model, shared by the module's tests (each sets its size)."""
    from explorer.window import MainWindow

    app = QApplication.instance()
    settings = QSettings(str(tmp_path_factory.mktemp("layout") / "settings.ini"), QSettings.IniFormat)
    settings.setValue("language", "en")
    win = MainWindow(source=BUNDLED, settings=settings, initial_text=TEXT)
    win.show()
    assert layout_check.wait(app, lambda: win.trace is not None and win.trace.text == TEXT, 60)
    win.select_position(4)
    yield win
    win.worker.stop()
    win.close()
    win.deleteLater()
    app.processEvents()


def _shown(window, panel) -> None:
    layout_check.show(window, panel, QApplication.instance())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("points", POINTS)
def test_every_tab_keeps_its_labels_inside_and_apart(window, size, points):
    window.resize(*size)
    window.set_font_size(points)
    found = []
    for panel in window.tab_panels.values():
        _shown(window, panel)
        found += [f"{panel.key}: {p}" for p in layout_check.problems(window, panel, scroll_ok=points > 20)]
    step = window.step_through  # every stage of the step-through, each its own drawing
    window.show_tab(step)
    for stage in range(8):
        window.set_selection(window.selection.with_(stage=stage))
        _shown(window, step)
        found += [f"step stage {stage + 1}: {p}" for p in layout_check.problems(window, step, scroll_ok=points > 20)]
    # the rest of the last block after ΔE, up to the next token's logit (issue #26)
    last = window.model_info.n_layers - 1
    window.set_selection(window.selection.with_(layer=last, stage=STAGES.index(Stage.OUTPUT)))
    _shown(window, step)
    app = QApplication.instance()
    assert layout_check.wait(app, lambda: step.canvas.block is not None and step.canvas.block.layer == last, 60)
    for stage in step.sequence(step.canvas.block)[len(HEAD_STAGES):]:
        window.set_selection(window.selection.with_(stage=stage))
        _shown(window, step)
        assert step.canvas.block is not None
        found += [f"step stage {STAGES[stage]}: {p}" for p in layout_check.problems(window, step, scroll_ok=points > 20)]
    window.set_selection(window.selection.with_(layer=0, stage=0))
    assert not found, "\n".join(found)


class _Painted(QWidget):
    """Two labels over each other and one running out of the widget: what the checker must see."""

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        from PySide6.QtCore import QPointF

        from explorer.views.drawn_text import RecordingPainter

        p = RecordingPainter(self)
        p.drawText(QPointF(10, 30), "first label")
        p.drawText(QPointF(14, 32), "second label")
        p.drawText(QPointF(self.width() - 20, 60), "cut at the edge")
        p.end()


def test_the_checker_sees_labels_overlapping_cut_and_controls_out_of_reach(window):
    """The test above can fail: two labels drawn over each other, a label running out of its
    widget and a control pushed out of the tab are each reported."""
    window.resize(1280, 720)
    window.set_font_size(13)
    detail = window.head_detail
    _shown(window, detail)
    assert not layout_check.problems(window, detail)
    painted = _Painted(detail)
    painted.setGeometry(10, 10, 260, 80)
    painted.show()
    detail.heading.setMinimumWidth(3000)  # a control out of reach at the right
    try:
        QApplication.instance().processEvents()
        found = "\n".join(layout_check.problems(window, detail))
        assert "'first label' overlaps 'second label'" in found, found
        assert "'cut at the edge'" in found and "outside its view" in found, found
        assert "scrolls sideways" in found and "reaches" in found, found
    finally:
        painted.hide()
        painted.setParent(None)
        detail.heading.setMinimumWidth(0)
        QApplication.instance().processEvents()


def _labels_of(window, owner) -> list[str]:
    return [label.text for label in layout_check.labels(window) if label.owner is owner]


@pytest.mark.parametrize("points", (20, 26, 32, 40))
def test_the_grid_and_the_head_map_keep_labels_at_every_text_size(window, points):
    """At 25–29 pt the grid was a thumbnail or one "0"; at 37 pt it was gone. Fewer labels as
    the text grows, never none: a layer, a head, the query's row and some columns."""
    window.resize(1024, 768)
    window.set_font_size(points)
    detail = window.head_detail
    _shown(window, detail)
    scroll = detail.parentWidget().parentWidget()  # the tab's scroll area: at 40 pt the map is below its controls
    scroll.verticalScrollBar().setValue(detail.view.y())  # scrolled to: the map at the top of the tab
    QApplication.instance().processEvents()
    grid = window.heads_grid.view.viewport()
    texts = _labels_of(window, grid)
    assert any(t.startswith("L") for t in texts), texts
    assert any(t.lstrip("H").isdigit() for t in texts), texts
    shown = _labels_of(window, detail.view.viewport())
    query = window.trace.token_strings[4]
    # the selected query's row is labelled (shortened with "…" where the map is narrow)
    assert any(t.rstrip("…") and query.startswith(t.rstrip("…")) and len(t.rstrip("…")) >= 2 for t in shown), shown
    columns = [t for t in detail.labels.column_labels if t]
    assert columns, "no column label"
    assert window.heads_grid.view.height() >= 5 * window.heads_grid.view.fontMetrics().height()


def test_the_head_map_is_labelled_the_same_whatever_came_before(window):
    """In pattern mode every other token was labelled and the query's row not; after a visit to
    the masked mode the same pattern labelled everything: layout depended on history."""
    window.resize(1024, 768)
    window.set_font_size(20)
    detail = window.head_detail
    _shown(window, detail)
    detail.set_mode("pattern")
    _shown(window, detail)
    before = (detail.plot.getAxis("left")._tickLevels, list(detail.labels.column_labels))
    for mode in ("masked", "scores", "rollout", "pattern"):
        detail.set_mode(mode)
        _shown(window, detail)
        assert not layout_check.problems(window, detail), mode
    after = (detail.plot.getAxis("left")._tickLevels, list(detail.labels.column_labels))
    assert after == before
    # the 3Blue1Brown layout (masked and pattern) cut its bottom rows: every row inside, labels apart
    detail.transpose_box.setChecked(True)
    try:
        for mode in ("masked", "pattern"):
            detail.set_mode(mode)
            _shown(window, detail)
            assert not layout_check.problems(window, detail), mode
            top, bottom = detail.plot.vb.viewRange()[1]
            assert top <= 0 and bottom >= detail.current.values.shape[0]  # every row in the range
    finally:
        detail.transpose_box.setChecked(False)


def test_presentation_mode_and_a_theme_switch_keep_the_labels(window):
    """F11 dropped the grid's L/H labels; after F11 or a theme switch the heat map ran over its
    colour bar until the theme was switched again."""
    window.resize(1280, 720)
    window.set_font_size(13)
    _shown(window, window.head_detail)
    window.toggle_presentation()
    try:
        _shown(window, window.head_detail)
        grid = _labels_of(window, window.heads_grid.view.viewport())
        assert any(t.startswith("L") for t in grid) and any(t.lstrip("H").isdigit() for t in grid), grid
        assert not [p for p in layout_check.problems(window, window.head_detail, scroll_ok=True)
                    if "HeadDetail" in p or "QWidget" in p]
    finally:
        window.toggle_presentation()
    window.toggle_theme()
    try:
        _shown(window, window.head_detail)
        assert not layout_check.problems(window, window.head_detail)
    finally:
        window.toggle_theme()


def test_until_the_first_trace_the_charts_say_they_wait(qtbot, make_window):
    """During SmolLM2's first load the window showed empty −1…1 axes and a small "loading…"."""
    window = make_window(wait=False)
    grid, detail = window.heads_grid, window.head_detail
    assert window.trace is None  # delivered only through the event loop, not turned yet
    assert grid.waiting.isVisible() and not grid.view.isVisible()
    assert "model" in grid.waiting.text() and not detail.view.isVisible()
    qtbot.waitUntil(lambda: window.trace is not None, timeout=10000)
    qtbot.waitUntil(lambda: grid.view.isVisible() and not grid.waiting.isVisible(), timeout=5000)
    window.show_tab(detail)
    qtbot.waitUntil(lambda: detail.view.isVisible() and not detail.waiting.isVisible(), timeout=5000)


def test_the_block_step_through_reads_in_both_themes(window):
    """The rest of the block after ΔE (issue #26) at 1280 × 720 with 1.5× text, light and dark:
    labels inside and apart, and the painted text far from the background in lightness."""
    from PySide6.QtGui import QPalette

    window.resize(1280, 720)
    window.set_font_size(20)
    step = window.step_through
    window.show_tab(step)
    last = window.model_info.n_layers - 1
    app = QApplication.instance()
    window.set_selection(window.selection.with_(layer=last, stage=STAGES.index(Stage.ATTN_ADD)))
    _shown(window, step)
    assert layout_check.wait(app, lambda: step.canvas.block is not None and step.canvas.block.layer == last, 60)
    found = []
    try:
        for _ in range(2):
            pal = step.canvas.palette()
            fg, bg = pal.color(QPalette.WindowText), pal.color(QPalette.Window)
            assert abs(fg.lightnessF() - bg.lightnessF()) > 0.6, (window.theme_name, fg.name(), bg.name())
            for stage in (Stage.MLP_NORM, Stage.MLP_NEURONS, Stage.UNEMBED):
                window.set_selection(window.selection.with_(stage=STAGES.index(stage)))
                _shown(window, step)
                found += [f"{window.theme_name} {stage}: {p}" for p in layout_check.problems(window, step)]
            window.toggle_theme()
    finally:
        window.set_selection(window.selection.with_(layer=0, stage=0))
    assert not found, "\n".join(found)
