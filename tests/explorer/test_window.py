from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from explorer.views.head_detail import head_matrix
from explorer.views.heads_grid import cell_at, mosaic
from tests.numerics import assert_close, assert_printed


def type_text(qtbot, window, text):
    window.text_box.setText(text)
    shown = window.text_box.text()  # Qt itself replaces a lone surrogate
    qtbot.waitUntil(lambda: window.trace is not None and window.trace.text == shown, timeout=10000)
    return window.trace


def test_typing_produces_a_trace_whose_tokens_match_the_text(qtbot, make_window):
    window = make_window()
    window.text_box.clear()
    qtbot.keyClicks(window.text_box, "the king and the queen")
    qtbot.waitUntil(lambda: window.trace.text == "the king and the queen", timeout=10000)
    assert window.trace.token_strings == ("[CLS]", "the", "king", "and", "the", "queen")
    chips = [c.text() for c in window.token_strip.chips if c.isVisible()]
    assert chips == list(window.trace.token_strings)
    assert window.heads_grid.image.image.shape == mosaic(window.trace.pattern).shape
    assert "6 tokens" in window.status_tokens.text()
    # the status line reports the model's time, the panels' update and the views' paint
    qtbot.waitUntil(lambda: "paint" in window.status_timing.text(), timeout=2000)
    timings = dict(part.strip().rsplit(" ", 2)[:2] for part in window.status_timing.text().split("·"))
    assert_printed(window.trace.forward_ms, float(timings["forward"]), places=1, what="forward ms")
    assert float(timings["paint"]) > 0


def test_a_burst_of_edits_ends_on_the_last_text_with_no_stale_trace(qtbot, make_window):
    window = make_window()
    seen = []
    window.worker.trace_ready.connect(lambda t: seen.append(t.request_id))
    words = "the mole of carbon dioxide was in the eiffel tower".split()
    for i in range(50):
        window.text_box.setText(" ".join(words[: 1 + i % len(words)]) + f" {i}")
    last = window.text_box.text()
    qtbot.waitUntil(lambda: window.trace.text == last, timeout=15000)
    qtbot.wait(200)
    assert window.trace.text == last
    assert window.trace.request_id == window.worker.latest_trace_id
    assert seen == sorted(seen)  # nothing older ever arrived after something newer
    assert len(seen) < 50  # the mailbox dropped superseded requests


def test_clicking_a_head_opens_it_in_the_enlarged_view(qtbot, make_window):
    window = make_window()
    trace = window.trace
    T = trace.n_tokens
    grid = window.heads_grid
    target = QPointF(1 * (T + 1) + T / 2, 1 * (T + 1) + 1)  # layer 1, head 1
    scene_pos = grid.plot.vb.mapViewToScene(target)

    class Click:
        def scenePos(self):  # noqa: N802 (Qt API)
            return scene_pos

    grid._on_mouse_clicked(Click())
    assert (window.selection.layer, window.selection.head) == (1, 1)
    assert window.head_detail.heading.text() == "Layer 1, head 1"
    assert window.current_tab_panel() is window.head_detail
    assert_close(window.head_detail.image.image, trace.pattern[1, 1], what="head 1.1")


def test_arrow_keys_move_between_heads_and_layers(qtbot, make_window):
    window = make_window()
    grid = window.heads_grid
    window.select_head(0, 0)
    qtbot.keyClick(grid, Qt.Key_Right)
    qtbot.keyClick(grid, Qt.Key_Down)
    assert (window.selection.layer, window.selection.head) == (1, 1)
    assert grid.selection == window.selection == window.head_detail.selection
    qtbot.keyClick(grid, Qt.Key_Down)  # already on the last layer: stays
    assert (window.selection.layer, window.selection.head) == (1, 1)


def test_hover_reports_layer_head_tokens_and_weight(qtbot, make_window):
    window = make_window()
    grid, trace = window.heads_grid, window.trace
    T = trace.n_tokens
    pos = grid.plot.vb.mapViewToScene(QPointF((T + 1) * 2 + 0.5, 3.5))  # layer 0, head 2, query 3, key 0
    grid._on_mouse_moved(pos)
    text = grid.hover_label.text()
    assert "L0 H2" in text and f"'{trace.token_strings[3]}'" in text
    assert f"{trace.pattern[0, 2, 3, 0]:.3f}" in text


def test_mosaic_cells_map_back_to_layer_head_query_key():
    patterns = np.random.default_rng(0).random((2, 3, 4, 4))
    image = mosaic(patterns)
    assert image.shape == (2 * 5 - 1, 3 * 5 - 1)
    assert_close(image[5 + 2, 10 + 3], patterns[1, 2, 2, 3], what="cell")
    assert np.isnan(image[4, 0])
    assert cell_at(10 + 3.5, 5 + 2.5, 2, 3, 4) == (1, 2, 2, 3)
    assert cell_at(4.5, 0.5, 2, 3, 4) is None  # the gap between heads


def test_view_toggles_change_what_is_drawn(qtbot, make_window):
    window = make_window()
    detail, trace = window.head_detail, window.trace
    window.select_head(1, 3)
    T = trace.n_tokens
    assert T <= 16  # small enough for the values to be written in the cells
    assert_close(detail.image.image, trace.pattern[1, 3], what="pattern")

    detail.set_mode("scores")
    assert_close(detail.image.image, trace.scores[1, 3], what="scores")
    assert np.isfinite(detail.image.image).all()

    detail.set_mode("masked")
    shown = detail.image.image
    future = np.triu(np.ones((T, T), dtype=bool), 1)
    assert np.isnan(shown[future]).all() and np.isfinite(shown[~future]).all()
    assert "−∞" in detail.labels.texts
    assert "−∞" in detail.note.text()

    detail.set_mode("pattern")
    detail.transpose_box.setChecked(True)
    assert_close(detail.image.image, trace.pattern[1, 3].T, what="transposed")
    assert_close(detail.image.image.sum(axis=0), 1.0, what="column sums")  # columns sum to 1
    detail.transpose_box.setChecked(False)

    detail.hide_first_box.setChecked(True)
    shown = detail.image.image
    assert shown.shape == (T, T - 1)
    assert_close(shown[1:].sum(axis=1), 1.0, what="renormalised rows")
    assert "hidden" in detail.note.text() and "renormalised" in detail.note.text()


def test_masked_view_of_a_model_without_a_mask_says_so(qtbot, make_window):
    import dataclasses

    trace = dataclasses.replace(make_window().trace, causal=False)
    m = head_matrix(trace, 0, 0, "masked")
    assert not m.masked.any() and "no mask" in m.note


def test_selecting_a_token_highlights_its_row_and_asks_for_its_prediction(qtbot, make_window):
    window = make_window()
    window.token_strip.chips[2].click()
    qtbot.waitUntil(lambda: window.trace.has_logits_at(2), timeout=10000)
    assert window.selection.query == 2 and window.head_detail.selection.query == 2
    rect = window.head_detail.row_highlight.rect()
    assert (rect.y(), rect.height()) == (2, 1)
    bars = window.head_detail.bars.opts["width"]
    assert_close(bars, window.trace.pattern[0, 0, 2], what="bars")


def test_a_model_error_shows_a_message_and_a_later_good_input_recovers(qtbot, make_window, monkeypatch):
    from model.tracer.runner import TracingModel

    window = make_window()
    real_trace = TracingModel.trace

    def flaky(self, text, *args, **kwargs):
        if "boom" in text:
            raise RuntimeError("the model fell over")
        return real_trace(self, text, *args, **kwargs)

    monkeypatch.setattr(TracingModel, "trace", flaky)
    window.text_box.setText("boom")
    qtbot.waitUntil(lambda: "fell over" in window.banner.text(), timeout=10000)
    assert window.banner.isVisible()
    assert banner_colour(window) == QColor(window.colours["error"]).name()
    type_text(qtbot, window, "the queen")
    assert not window.banner.isVisible()
    type_text(qtbot, window, "the queen " * 200)  # longer than the context: a notice, not an error
    assert "dropped" in window.banner.text()
    assert banner_colour(window) == QColor(window.colours["accent"]).name()


def banner_colour(window) -> str:
    return window.banner.palette().color(window.banner.foregroundRole()).name()


def test_loading_a_broken_model_keeps_the_previous_one(qtbot, make_window, tmp_path, tiny_model_folder):
    import shutil

    window = make_window()
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_folder, broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    window.load_model(str(broken))
    qtbot.waitUntil(lambda: "Could not load" in window.banner.text(), timeout=10000)
    assert "model.safetensors" in window.banner.text()
    assert window.model_info.name == "tiny"
    type_text(qtbot, window, "the mole")


def test_the_model_menu_lists_models_and_switches_to_the_one_picked(qtbot, make_window, tmp_path, monkeypatch):
    from tests.model.test_loading import write_gpt2_folder

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    write_gpt2_folder(tmp_path / "checkpoints" / "gpt2-tiny")
    window = make_window()
    window._remember_model_folder(str(tmp_path / "checkpoints"))
    window._populate_model_menu()
    actions = {a.text(): a for a in window.model_menu.actions() if a.isCheckable()}
    assert "Teaching model (bundled)" in actions and "gpt2-tiny (GPT-2)" in actions
    actions["gpt2-tiny (GPT-2)"].trigger()
    qtbot.waitUntil(lambda: window.model_info.name.startswith("gpt2-tiny"), timeout=10000)
    qtbot.waitUntil(lambda: window.trace is not None and window.trace.n_layers == 2 and window.trace.causal,
                    timeout=10000)
    assert "gpt2-tiny" in window.windowTitle()
    window._populate_model_menu()
    checked = [a.text() for a in window.model_menu.actions() if a.isChecked()]
    assert checked == ["gpt2-tiny (GPT-2)"]


def test_the_model_menu_opens_on_the_last_scan_and_rescans_in_the_background(qtbot, make_window, monkeypatch):
    """Scanning (SmolLM2's GGUF header: 0.5 s) on the GUI thread each time the menu opened
    was a stall; it opens on the last scan and a new one runs on another thread."""
    import threading

    import explorer.model_menu as window_module  # where the scan lives

    window = make_window()
    scans = []
    real = window_module._scan_models
    monkeypatch.setattr(window_module, "_scan_models",
                        lambda folders: scans.append(threading.current_thread().name) or real(folders))
    window._scanned_choices = None
    window._on_model_menu_opening()  # never scanned: here, once
    assert scans == ["MainThread"]
    window._on_model_menu_opening()
    qtbot.waitUntil(lambda: len(scans) == 2, timeout=10000)
    assert scans[1] == "model-scan"  # the second opening did not scan on the GUI thread
    assert any(a.text() == "Teaching model (bundled)" for a in window.model_menu.actions())


def test_bfloat16_weights_are_a_setting_the_status_line_shows(qtbot, make_window, settings):
    window = make_window()
    # "auto": the bundled model (7 M parameters) stays float32
    assert window.precision == "auto" and window.model_info.precision == "float32"
    window.set_precision("bfloat16")  # loads the model on screen again, in bfloat16
    qtbot.waitUntil(lambda: window.model_info.precision == "bfloat16", timeout=20000)
    qtbot.waitUntil(lambda: window.trace is not None and window.trace.precision == "bfloat16", timeout=20000)
    assert "bf16" in window.status_model.text() and "bfloat16" in window.status_model.toolTip()
    assert settings.value("precision") == "bfloat16"  # remembered for the next start
    window.set_precision("float32")
    qtbot.waitUntil(lambda: window.model_info.precision == "float32", timeout=20000)
    assert "bf16" not in window.status_model.text()


@pytest.mark.parametrize("precision, words", [("float16", "16-bit weights"), ("int8", "8-bit weights")])
def test_smaller_weights_type_live_while_the_step_through_shows_float32s_numbers(qtbot, make_window, precision, words):
    """The Model menu's 16- and 8-bit weights: the float32 model is shown first, the smaller
    weights are built between traces, the status line gives their measured agreement with
    float32, and the step-through's numbers stay float32's."""
    window = make_window()
    window.set_precision(precision)
    qtbot.waitUntil(lambda: window.model_info.precision == precision and window.model_info.top1_agreement is not None,
                    timeout=60000)
    qtbot.waitUntil(lambda: window.trace is not None and window.trace.precision == precision, timeout=20000)
    assert words in window.status_model.text() and "top-1 agreement" in window.status_model.text()
    assert "float32" in window.status_model.toolTip()
    step = window.panel("step")
    window.show_tab(step)
    qtbot.waitUntil(lambda: step.trace is not None and step.steps is not None, timeout=20000)
    assert step.trace.precision == "float32" and step.trace.text == window.trace.text
    assert "float32" in step.canvas.note
    # float32's own numbers: the same scores as the model's float32 pass of the text
    exact = window.worker.model.exact_trace(window.trace.text)
    sel = window.selection
    assert_close(step.trace.scores[sel.layer, sel.head], exact.scores[sel.layer, sel.head], rel=1e-6,
                 what="the step-through's scores against float32's")
    assert step.trace is not window.trace


def test_a_wrong_path_gives_a_clear_message(qtbot, make_window, tmp_path):
    window = make_window(source=tmp_path / "no-such-model", wait=False)
    qtbot.waitUntil(lambda: "Could not load" in window.banner.text(), timeout=10000)
    assert "no such file or folder" in window.banner.text()
    window.text_box.setText("still responsive")  # no model: nothing runs, nothing crashes
    assert window.worker.wait_until_idle()
    assert window.trace is None and "Could not load" in window.banner.text()


def test_empty_text_and_text_longer_than_the_context(qtbot, make_window):
    window = make_window()
    trace = type_text(qtbot, window, "")
    assert trace.n_tokens == 1  # the BOS token alone
    long_text = " ".join(["the king and the queen"] * 10)
    trace = type_text(qtbot, window, long_text)
    assert trace.truncated
    assert f"last {trace.n_tokens} of {trace.n_input_tokens} tokens" in window.banner.text()


def test_text_and_font_size_persist(qtbot, make_window, settings):
    window = make_window(text="one mole of carbon dioxide")
    window.set_font_size(20)
    window.close()
    again = make_window(text=None, wait=False)
    assert again.text_box.text() == "one mole of carbon dioxide"
    assert again.point_size == 20


def test_closing_the_window_stops_the_worker_thread(qtbot, make_window):
    window = make_window()
    assert window.worker.is_running()
    window.close()
    assert not window.worker.is_running()


@pytest.mark.parametrize("text", ["😀🧠 emoji", "日本語", "\ud800 lone surrogate", "tab\tand\x00null"])
def test_any_unicode_is_shown(qtbot, make_window, text):
    window = make_window()
    trace = type_text(qtbot, window, text)
    assert trace.n_tokens >= 1 and not window.banner.property("error")
    # characters the vocabulary lacks are said plainly, never as an error
    assert window.banner.isVisible() == ("[UNK]" in trace.token_strings)


def test_hidden_tabs_catch_up_when_shown(qtbot, make_window):
    window = make_window()
    window.show_tab(window.head_detail)
    before = window.next_token.redraw_count
    type_text(qtbot, window, "the queen and the mole")
    assert window.next_token.redraw_count == before and window.next_token.is_dirty  # not redrawn while hidden
    window.show_tab(window.next_token)
    assert window.next_token.redraw_count == before + 1 and not window.next_token.is_dirty
    assert "'mole'" in window.next_token.heading.text()


def test_select_a_token_then_type_costs_each_visible_panel_one_redraw(qtbot, make_window):
    window = make_window(text="the king and the queen")
    window.show_tab(window.head_detail)
    visible = [p for p in window.panels if p.isVisible()]
    assert {window.token_strip, window.heads_grid, window.head_detail} <= set(visible)
    window.select_position(2)
    assert window.worker.wait_until_idle()
    # the head badges (scored once per model, after the first trace) redraw the grid when
    # they arrive: let them, so that the count below is the keystroke's own
    qtbot.waitUntil(lambda: window.heads_grid.badges is not None, timeout=20000)
    qtbot.wait(50)
    before = {id(p): p.redraw_count for p in window.panels}
    window.select_position(1)
    window.text_box.setText("the king and the queen were")
    qtbot.waitUntil(lambda: window.trace.text == "the king and the queen were", timeout=10000)
    assert window.worker.wait_until_idle()
    counts = {p.title or type(p).__name__: p.redraw_count - before[id(p)] for p in window.panels}
    # one redraw for the selection (only panels that draw the query) and one for the trace
    hidden = {name: n for name, n in counts.items() if name not in ("TokenStrip", "HeadsGridPanel", "Head")}
    assert {k: counts[k] for k in ("TokenStrip", "HeadsGridPanel", "Head")} == {
        "TokenStrip": 2, "HeadsGridPanel": 1, "Head": 2}, counts
    assert set(hidden.values()) == {0} and len(hidden) >= 6, counts  # hidden tabs: nothing


def test_a_superseded_trace_is_shown_only_when_the_screen_is_old_and_never_backwards():
    from explorer.trace_worker import ScreenPolicy

    screen = ScreenPolicy(stale_ms=100)
    screen.shown(50, now=10.0)
    assert screen.verdict(100, latest_id=100, now=10.01) == "show"  # the latest always shows
    assert screen.verdict(90, latest_id=100, now=10.05) == "drop"  # the screen is fresh
    assert screen.verdict(90, latest_id=100, now=10.2) == "stale"  # the screen is old: show it
    screen.shown(90, now=10.2)
    assert screen.verdict(80, latest_id=100, now=11.0) == "drop"  # never backwards
    # a slow model (Gemma 3: ~80 ms a trace in a burst of keys): a superseded trace is shown
    # at once, even on a fresh screen, or a key waits for the trace after next
    assert screen.verdict(95, latest_id=100, now=10.25, forward_ms=80.0) == "slow"
    assert screen.verdict(95, latest_id=100, now=10.25, forward_ms=5.0) == "drop"  # a fast one: wait
    assert screen.verdict(85, latest_id=100, now=10.25, forward_ms=80.0) == "drop"  # never backwards


def test_a_loaded_model_stays_out_of_garbage_collections_until_it_is_replaced(qtbot, make_window, tmp_path, tiny_model_folder):
    """A full collection of everything a loaded window holds stalled the GUI thread for
    ~140 ms; frozen after loading, it is skipped. A replaced model is still freed."""
    import gc
    import shutil
    import weakref

    from explorer import runtime

    gc.unfreeze()  # whatever an earlier test left frozen
    runtime.configure_process(freeze_after_load=True)  # as the app does
    window = make_window()
    # frozen once the first trace is on screen (the next event-loop turn after it is shown)
    qtbot.waitUntil(lambda: window.trace is not None and gc.get_freeze_count() > 0, timeout=10000)
    first_model = weakref.ref(window.worker.model.module)
    second = tmp_path / "second"
    shutil.copytree(tiny_model_folder, second)
    window.load_model(str(second))
    qtbot.waitUntil(lambda: window.current_source == str(second), timeout=10000)
    type_text(qtbot, window, "the queen")
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=10000)
    gc.collect()
    assert first_model() is None
    runtime.configure_process(freeze_after_load=False)
    gc.unfreeze()


def test_switching_the_theme_repaints_every_view_in_the_new_background(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: window.trace is not None, timeout=10000)
    for _ in range(2):  # dark → light → dark
        window.toggle_theme()
        background = QColor(window.colours["bg"]).name()
        views = [window.heads_grid.view, window.head_detail.view, window.next_token.view,
                 window.embeddings.view, window.drift.view]
        assert [view.backgroundBrush().color().name() for view in views] == [background] * len(views)


def test_a_long_paste_is_kept_whole_and_the_banner_tells_the_truth(qtbot, make_window):
    """QLineEdit's default limit kept the *start* of a 58,909-character paste while the
    banner said the *oldest* tokens were dropped."""
    window = make_window()
    text = "the king and the queen " * 2600 + "the end"
    window.text_box.selectAll()
    window.text_box.insert(text)  # what a paste does
    assert window.text_box.text() == text
    trace = type_text(qtbot, window, text)
    assert trace.truncated and trace.text.endswith("the end") and trace.offsets[-1][1] == len(text)
    assert f"oldest {trace.n_dropped_tokens} were dropped" in window.banner.text()


def test_long_texts_label_every_nth_token_so_labels_never_overlap(qtbot, make_window):
    """At 128 tokens a row is a few pixels high: every label drawn ran into the next."""
    from PySide6.QtGui import QFontMetrics

    window = make_window(source="bundled")  # a 128-token context
    window.resize(1280, 720)
    window.show_tab(window.head_detail)
    trace = type_text(qtbot, window, " ".join(["the king and the queen"] * 30))
    assert trace.n_tokens == 128
    detail = window.head_detail
    ticks = detail.plot.getAxis("left")._tickLevels[0]
    assert 1 < len(ticks) < trace.n_tokens
    spacing_px = (ticks[1][0] - ticks[0][0]) * detail.plot.vb.height() / (detail.plot.vb.viewRange()[1][1] - detail.plot.vb.viewRange()[1][0])
    assert spacing_px >= QFontMetrics(detail.labels.label_font).height()
    shown = [label for label in detail.labels.column_labels if label]
    assert 1 < len(shown) < trace.n_tokens


def test_a_long_model_name_ends_in_an_ellipsis_with_the_whole_in_its_tooltip(qtbot, make_window):
    """At 20-point text on a 1280-pixel window the status line's model name ran off the edge,
    cut mid-word; it now ends in "…" and the tooltip has all of it."""
    from explorer.elided_label import ElidedLabel

    window = make_window()
    label = window.status_model
    assert isinstance(label, ElidedLabel)
    long_name = "SmolLM2-135M-Instruct (Q4_1) · 30×9 heads · dequantized weights (hover for more)"
    label.setText(long_name)
    label.setToolTip("4-bit weights")
    window.resize(500, 400)
    qtbot.waitUntil(lambda: label.width() < label.fontMetrics().horizontalAdvance(long_name), timeout=5000)
    label.repaint()
    assert label.elided().endswith("…") and len(label.elided()) < len(long_name)
    assert long_name in label.toolTip() and "4-bit weights" in label.toolTip()
    label.setText("tiny")
    label.repaint()
    assert label.elided() == "tiny" and label.toolTip() == "4-bit weights"


def test_every_tab_is_one_key_or_one_click_away_when_the_tab_bar_cannot_show_them_all(qtbot, make_window):
    """Fourteen tabs at 1280 px with large text: the tab bar scrolls, so Ctrl+1 … Ctrl+9 and the
    ☰ list at its end reach every tab (issue #32: Head roles and A/B only with the arrows)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QToolButton

    window = make_window(text="the cat sat")
    window.finish_building()
    window.resize(1280, 720)
    window.set_font_size(window.point_size + 6)
    qtbot.keyClick(window, Qt.Key_3, Qt.ControlModifier)
    assert window.tabs.currentIndex() == 2
    button = window.tabs.cornerWidget()
    assert isinstance(button, QToolButton) and button.isVisible()
    menu = button.menu()
    menu.aboutToShow.emit()
    actions = menu.actions()
    assert [a.text().split("\t")[0] for a in actions] == [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert actions[2].isChecked() and "\t" in actions[0].text() and "\t" not in actions[-1].text()
    actions[-1].trigger()  # the last tab, beyond the ninth
    assert window.tabs.currentIndex() == window.tabs.count() - 1
