"""State that outlived what it described (issue #32): hover text naming tokens of a text no
longer on screen or of another model, a sweep's hint after its colours were turned off, sweep
colours with no numbers, and a head-roles error that stayed after another model loaded."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from model.core.paths import BUNDLED


def _hover_a_cell(window) -> str:
    grid = window.heads_grid
    grid.repaint()
    t = window.trace.n_tokens
    scene = grid.plot.vb.mapViewToScene(QPointF(t - 0.5, t - 0.5))  # layer 0, head 0, the last query and key
    grid._on_mouse_moved(scene)
    return grid.hover_label.text()


def test_hover_text_goes_with_the_tokens_it_names(qtbot, make_window, tiny_model_folder):
    window = make_window(text="the king and the queen")
    default = window.heads_grid.hover_label.text()
    hovered = _hover_a_cell(window)
    assert hovered != default and "queen" in hovered
    window.text_box.setText("a dog barked")
    qtbot.waitUntil(lambda: window.trace.text == "a dog barked", timeout=10000)
    assert window.heads_grid.hover_label.text() == default  # "… 'queen' …" named a token no longer there
    _hover_a_cell(window)
    window.load_model(str(tiny_model_folder))
    qtbot.waitUntil(lambda: window.heads_grid.hover_label.text() == default, timeout=10000)


def test_the_sweep_has_a_numeric_legend_and_its_hint_goes_with_its_colours(qtbot, make_window):
    window = make_window(text="the king and the queen")
    grid = window.heads_grid
    grid.start_sweep()
    qtbot.waitUntil(lambda: grid.sweep is not None and grid.sweep.text == window.trace.text, timeout=20000)
    grid.refresh(force=True)
    assert grid.sweep_legend.isVisible() and grid.sweep_overlay.isVisible()
    low, high = grid.sweep_legend.low, grid.sweep_legend.high
    assert low < 0 < high and abs(low + high) < 1e-9  # centred at 0, both ends numbered
    assert [t for _, t in grid.sweep_legend.ticks()] == [grid.sweep_legend.ticks()[0][1], "0",
                                                         grid.sweep_legend.ticks()[-1][1]]
    assert "Sweep" in grid.hover_label.text()
    grid.controls.show_sweep.setChecked(False)
    assert not grid.sweep_legend.isVisible() and not grid.sweep_overlay.isVisible()
    assert "Sweep" not in grid.hover_label.text()


def test_head_roles_on_a_one_head_lesson_model_and_back(qtbot, make_window):
    """A raw "ValueError: Cannot take a larger sample than population" stayed on the tab, even
    after returning to the bundled model."""
    window = make_window(source="lesson:seed-003", text="Your journey starts with one step")
    window.finish_building()
    roles = window.panel("roles")
    window.show_tab(roles)
    qtbot.waitUntil(lambda: roles.badges is not None or roles.error.isVisibleTo(roles), timeout=30000)
    assert "ValueError" not in roles.error.text() and "sample" not in roles.error.text()
    window.load_model(BUNDLED)
    qtbot.waitUntil(lambda: window.model_info is not None and window.model_info.n_heads == 8, timeout=30000)
    qtbot.waitUntil(lambda: roles.badges is not None, timeout=60000)
    assert not roles.error.isVisibleTo(roles)
