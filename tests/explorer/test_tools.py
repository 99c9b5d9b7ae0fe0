"""The mechanism tools in the window: logit lens, knock-out, sweep, badges, rollout."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.views.heads_grid import HeadsGridPanel
from model.analysis.ablation import knockout_logits
from model.analysis.lens import logit_lens
from model.analysis.rollout import attention_rollout
from tests.numerics import assert_close


def _wait(qtbot, condition, timeout=10000):
    qtbot.waitUntil(condition, timeout=timeout)


def test_the_lens_tab_shows_the_lens_of_the_text_and_its_last_layer_is_the_prediction(make_window, qtbot):
    window = make_window()
    lens = window.tab_panels[next(c for c in window.tab_panels if c.key == "lens")]
    window.show_tab(lens)
    _wait(qtbot, lambda: lens.result is not None and lens.result.text == window.trace.text)
    trace = window.trace
    assert lens.result.top_ids.shape[:2] == (trace.n_layers, trace.n_tokens)
    assert lens.result.top_ids[-1, -1, 0] == int(np.argmax(trace.logits_at(-1)))
    header, rows = lens.export_table()
    assert header == ["layer", "position", "token", "top_token", "probability"]
    assert len(rows) == trace.n_layers * trace.n_tokens
    expected = logit_lens(window.worker.model.module, trace.resid_post)
    assert_close(rows[-1][4], float(expected.top_probs[-1, -1, 0]), what="exported probability")
    lens.pin(int(lens.result.top_ids[0, -1, 0]))
    _wait(qtbot, lambda: len(lens.result.tracked_ids) == 1)
    assert len(lens.lines) == 1


def test_ctrl_click_knocks_a_head_out_and_the_next_token_bars_follow(make_window, qtbot):
    window = make_window()
    grid: HeadsGridPanel = window.heads_grid
    grid.toggle_knockout(1, 2)
    assert window.selection.ablated == frozenset({(1, 2)})
    nxt = window.next_token
    window.show_tab(nxt)
    _wait(qtbot, lambda: nxt.ablation is not None)
    ids = window.worker.model.encode(window.trace.text)[0].ids
    expected = knockout_logits(window.worker.model.module, ids, [(1, 2)])
    assert_close(nxt.ablation.logits, expected, what="knocked-out logits")
    assert "knocked out (zero): 1.2" in nxt.stats.text()
    header, rows = nxt.export_table()
    assert "probability_all_heads" in header
    grid.toggle_knockout(1, 2)
    assert window.selection.ablated == frozenset()


def test_the_sweep_runs_on_the_worker_and_colours_the_grid(make_window, qtbot):
    window = make_window()
    grid = window.heads_grid
    grid.start_sweep()
    _wait(qtbot, lambda: grid.sweep is not None)
    info = window.model_info
    assert grid.sweep.delta.shape == (info.n_layers, info.n_heads)
    assert grid.sweep_overlay.isVisible()
    assert not grid.controls.cancel.isEnabled()


def test_cancel_stops_a_sweep(make_window, qtbot):
    window = make_window()
    grid = window.heads_grid
    grid.start_sweep()
    grid.controls.cancel.click()
    assert window.worker.wait_until_idle()
    assert grid.sweep is None


def test_badges_are_scored_after_a_load_and_fill_the_table(make_window, qtbot):
    window = make_window()
    roles = window.tab_panels[next(c for c in window.tab_panels if c.key == "roles")]
    _wait(qtbot, lambda: window.heads_grid.badges is not None and roles.badges is not None)
    window.show_tab(roles)
    info = window.model_info
    assert roles.table.rowCount() == info.n_layers * info.n_heads
    header, rows = roles.export_table()
    assert header[:2] == ["layer", "head"] and len(rows) == info.n_layers * info.n_heads


def test_rollout_toggle_draws_one_tile_per_layer(make_window, qtbot):
    window = make_window()
    grid = window.heads_grid
    grid.controls.rollout.setChecked(True)
    trace = window.trace
    assert grid._drawn_shape[0] == (trace.n_layers, 1, trace.n_tokens, trace.n_tokens)
    assert_close(grid.rollout, attention_rollout(trace.pattern), what="rollout")
    grid.controls.rollout.setChecked(False)
    assert grid._drawn_shape[0] == trace.pattern.shape


def test_a_modifier_click_on_the_grid_toggles_a_knock_out(make_window, qtbot):
    window = make_window()
    grid = window.heads_grid

    class Click:
        def __init__(self, pos):
            self._pos = pos

        def scenePos(self):  # noqa: N802
            return self._pos

        def modifiers(self):
            return Qt.ControlModifier

    T = window.trace.n_tokens
    step = T + 1
    point = grid.plot.vb.mapViewToScene(pg_point(1 * step + T / 2, 0 * step + T / 2))
    grid._on_mouse_clicked(Click(point))
    assert window.selection.ablated == frozenset({(0, 1)})


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


# ---------------------------------------------------------------------- headless export
def _export(capsys, folder, *args):
    from explorer import app as app_module

    code = app_module.main(["export", "--model", str(folder), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _csv(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_export_lens_csv_is_the_lens_of_the_trace_with_and_without_a_knock_out(qtbot, capsys, tmp_path,
                                                                                tiny_model_folder):
    from model.analysis.ablation import knocked_out
    from model.loading import load_tracing_model

    text = "the king and the queen"
    reference = load_tracing_model(str(tiny_model_folder))
    for ablate in ("", "1.2,0.0"):
        out = tmp_path / f"lens{ablate}.csv"
        code, _, err = _export(capsys, tiny_model_folder, "--text", text, "--view", "lens", "--out", str(out),
                               *(("--ablate", ablate) if ablate else ()))
        assert code == 0, err
        header, rows = _csv(out)
        assert header == ["layer", "position", "token", "top_token", "probability"]
        heads = [(1, 2), (0, 0)] if ablate else []
        with knocked_out(reference.module, heads):
            trace = reference.trace(text)
        expected = logit_lens(reference.module, trace.resid_post)
        assert len(rows) == trace.n_layers * trace.n_tokens
        got = np.array([float(r[4]) for r in rows]).reshape(trace.n_layers, trace.n_tokens)
        assert_close(got, expected.top_probs[..., 0], what="exported lens")


def test_export_next_with_ablate_has_both_distributions(qtbot, capsys, tmp_path, tiny_model_folder):
    out = tmp_path / "next.csv"
    code, _, err = _export(capsys, tiny_model_folder, "--text", "the king and the queen", "--view", "next",
                           "--ablate", "1.1", "--out", str(out))
    assert code == 0, err
    header, rows = _csv(out)
    assert header == ["rank", "token_id", "token", "probability", "probability_all_heads", "delta_logprob"]


@pytest.mark.parametrize("bad, message", [("9.0", "not in a model"), ("x", "LAYER.HEAD")])
def test_export_rejects_bad_ablate(qtbot, capsys, tmp_path, tiny_model_folder, bad, message):
    code, _, err = _export(capsys, tiny_model_folder, "--text", "the king", "--view", "lens", "--ablate", bad,
                           "--out", str(tmp_path / "x.csv"))
    assert code == 2 and message in err


def test_the_head_view_has_a_rollout_mode(make_window, qtbot):
    from explorer.views.head_detail import head_matrix

    window = make_window()
    trace = window.trace
    m = head_matrix(trace, 1, 0, "rollout")
    assert_close(m.values, attention_rollout(trace.pattern)[1], what="rollout")
    assert "not explanations" in m.note
    window.head_detail.set_mode("rollout")
    window.show_tab(window.head_detail)
    window.head_detail.refresh(force=True)
    assert window.head_detail.heading.text().startswith("Attention rollout through layer")


def test_ab_prompts_compare_and_patch(make_window, qtbot):
    window = make_window(text="the king and the queen")
    ab = window.tab_panels[next(c for c in window.tab_panels if c.key == "ab")]
    window.show_tab(ab)
    ab.text_b.setText("the queen and the king")
    ab.compare()
    qtbot.waitUntil(lambda: ab.trace_b is not None, timeout=10000)
    header, rows = ab.export_table()
    assert len(rows) == window.model_info.n_layers * window.model_info.n_heads
    window.select_head(1, 1)
    ab.patch_selected()
    qtbot.waitUntil(lambda: ab.patch is not None, timeout=10000)
    assert ab.patch.heads == ((1, 1),)
    assert "patched from A" in ab.summary.text()


def _click_bar(panel, row: int) -> None:
    from PySide6.QtCore import QPointF

    class Click:
        def __init__(self, pos):
            self._pos = pos

        def scenePos(self):  # noqa: N802 (Qt's name)
            return self._pos

        def button(self):
            return Qt.MouseButton.LeftButton

    panel._on_mouse_clicked(Click(panel.plot.vb.mapViewToScene(QPointF(0.01, row))))


def test_a_clicked_bar_is_the_token_the_knock_out_and_the_sweep_measure(make_window, qtbot):
    """Pick the second-ranked token in the Next token tab: it is outlined, the knock-out line
    reports its log-probability, and a sweep measures it; a second click gives the top back."""
    window = make_window()
    nxt = window.next_token
    window.show_tab(nxt)
    _wait(qtbot, lambda: len(nxt.rows) > 2)
    second = int(nxt.rows[1])
    _click_bar(nxt, 1)
    assert window.selection.target == second
    pens = nxt.bars.opts["pens"]
    assert pens[1].width() == 3 and pens[0].style() == Qt.PenStyle.NoPen
    name = window.model_info.vocabulary[second]
    window.heads_grid.toggle_knockout(0, 1)
    _wait(qtbot, lambda: nxt.ablation is not None and "knocked out" in nxt.stats.text())
    assert f"log p('{name}')" in nxt.stats.text()
    grid = window.heads_grid
    grid.start_sweep()
    _wait(qtbot, lambda: grid.sweep is not None)
    assert grid.sweep.token == second and name in grid.hover_label.text()
    _click_bar(nxt, list(nxt.rows).index(second))  # the knock-out may have reordered the bars
    assert window.selection.target is None


def test_a_badge_on_most_heads_is_not_drawn_and_the_toggle_says_so():
    """SmolLM2 has sinks on 171 of 270 heads: an S on every other tile hid the patterns."""
    from explorer.views.grid_overlays import GridControls, badge_marks
    from model.analysis.badges import HeadBadges

    L, H = 4, 5
    zeros = np.zeros((L, H))
    sink = np.ones((L, H))
    sink[0, 0] = 0.0  # 19 of 20 heads are sinks
    induction = zeros.copy()
    induction[2, 3] = 1.0
    badges = HeadBadges(previous_token=zeros, first_token=sink, induction=induction, duplicate_token=zeros)
    marks, common = badge_marks(badges)
    assert common == {"S": 19}
    assert marks[2][3] == "I" and marks[1][1] == "" and marks[0][0] == ""
    controls = GridControls()
    controls.set_common_badges(common, L * H)
    assert "S" in controls.badges.text() and "19 of 20" in controls.badges.toolTip()
    controls.set_common_badges({}, 0)
    assert controls.badges.text() == "badges"


def test_on_the_bundled_model_a_knock_out_before_torch_has_loaded_is_answered_after_it(make_window, qtbot):
    """Fast start (issue #19): the first traces come from the NumPy model; a knock-out waits
    for the torch model, and then the bars show it, as they would have without the wait."""
    window = make_window(source="bundled", text="the cat sat on the")
    assert not window.worker.full_model_loaded  # torch is still loading: about 1.5 s
    window.finish_building()
    nxt = window.next_token
    window.show_tab(nxt)
    window.heads_grid.toggle_knockout(1, 2)
    _wait(qtbot, lambda: nxt.ablation is not None, timeout=60000)
    assert window.worker.full_model_loaded
    ids = window.worker.model.encode(window.trace.text)[0].ids
    assert_close(nxt.ablation.logits, knockout_logits(window.worker.model.module, ids, [(1, 2)]),
                 what="knocked-out logits")
    window.text_box.setText("the cat sat on the mat")  # typing after the switch: torch traces
    _wait(qtbot, lambda: window.trace.text == "the cat sat on the mat")
    assert window.trace.n_tokens == 7
