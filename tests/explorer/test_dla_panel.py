"""The "Who wrote it" tab (issue #26): live direct logit attribution in the window."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt


def _wait_for_result(qtbot, window, panel):
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.text == window.trace.text, timeout=20000)


def _dla_tab(qtbot, make_window, text="the king and the queen"):
    """A window showing the Who-wrote-it tab, once its first attribution has arrived."""
    window = make_window(text=text)
    window.finish_building()
    panel = window.panel("dla")
    window.show_tab(panel)
    _wait_for_result(qtbot, window, panel)
    return window, panel


def test_the_tab_attributes_the_top_token_and_the_rows_sum_to_its_logit(qtbot, make_window):
    window, panel = _dla_tab(qtbot, make_window)
    a = panel.result.attribution
    header, rows = panel.export_table()
    assert header == ["layer", "component", "head", "contribution"]
    total = sum(r[3] for r in rows)
    assert abs(total - a.logit) <= 1e-4 * max(1.0, abs(a.logit), float(np.abs(a.heads).max()))
    top = int(np.argmax(window.trace.logits_at(-1)))
    assert panel.result.target == top
    assert "logit" in panel.heading.text() and "sum" in panel.top.text()


def test_a_contrast_and_a_clicked_target_change_what_is_attributed(qtbot, make_window):
    window, panel = _dla_tab(qtbot, make_window)
    second = int(np.argsort(-window.trace.logits_at(-1))[1])
    window.set_selection(window.selection.with_(target=second))  # as a click in the Next-token bars does
    qtbot.waitUntil(lambda: panel.result.target == second, timeout=20000)
    token = window.model_info.vocabulary[second]
    panel.contrast.setText(token)
    panel.contrast.editingFinished.emit()
    qtbot.waitUntil(lambda: panel.result.contrast == second, timeout=20000)
    assert abs(panel.result.attribution.logit) < 1e-6  # a token minus itself


def test_a_contrast_that_is_not_one_token_says_how_it_splits(qtbot, make_window):
    window, panel = _dla_tab(qtbot, make_window)
    panel.contrast.setText("king queen")
    panel.contrast.editingFinished.emit()
    qtbot.waitUntil(lambda: "not one token" in panel.message.text(), timeout=20000)


def test_clicking_a_head_cell_selects_that_head(qtbot, make_window):
    window, panel = _dla_tab(qtbot, make_window)
    qtbot.waitUntil(lambda: panel.view.isVisible())
    scene = panel.plot.vb.mapViewToScene(QPointF(2.5, 1.5))  # head 2 of layer 1
    point = panel.view.mapFromScene(scene)
    qtbot.mouseClick(panel.view.viewport(), Qt.LeftButton, pos=point)
    qtbot.waitUntil(lambda: (window.selection.layer, window.selection.head) == (1, 2), timeout=5000)


def test_the_shading_toggle_shades_the_token_strip_by_integrated_gradients(qtbot, make_window):
    window, panel = _dla_tab(qtbot, make_window)
    panel.shade.setChecked(True)
    strip = window.token_strip
    qtbot.waitUntil(lambda: strip._scores() is not None, timeout=30000)
    s = strip.saliency.saliency
    assert s.completeness_gap < 0.1  # 32 steps by default
    assert s.target == panel.result.target
    styled = [c.styleSheet() for c in strip.chips[: window.trace.n_tokens]]
    assert all("border-bottom" in style for style in styled)
    header, rows = strip.export_table()
    assert header == ["position", "token", "grad_x_input", "integrated_gradients"] and len(rows) == window.trace.n_tokens
    panel.shade.setChecked(False)
    qtbot.waitUntil(lambda: strip._scores() is None, timeout=30000)
    assert all(c.styleSheet() == "" for c in strip.chips)


def test_the_contribution_graph_tab_draws_edges_into_the_selected_token(qtbot, make_window):
    window = make_window(text="the king and the queen and the king")
    window.finish_building()
    panel = window.panel("graph")
    window.show_tab(panel)
    qtbot.waitUntil(lambda: panel.graph is not None and panel.graph.text == window.trace.text, timeout=20000)
    qtbot.waitUntil(lambda: len(panel.shown) > 0, timeout=5000)
    last = window.trace.n_tokens - 1
    assert any(target == last for _layer, _source, target, _imp, _head in panel.shown)
    header, rows = panel.export_table()
    assert header == ["layer", "source", "target", "importance"]
    assert all(row[3] > panel.threshold.value() / 100 for row in rows)
    panel.whole.setChecked(True)
    assert len(panel.shown) >= len(rows)
