"""Export (issue 18): the CSVs hold the trace's own numbers, the SVGs keep text as text, the
PNGs have the size asked for, writes are atomic, and the headless command fails in one line."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from explorer import app as app_module
from explorer.export import ExportError, csv_text, export_panel, write_atomically, write_csv
from explorer.views.base import Panel
from model.analysis.analogy import EmbeddingIndex
from model.analysis.geometry import analogy_plane, pairwise_cosines, trajectory
from model.core.sampling import next_token_distribution
from model.loading import load_tracing_model
from tests.numerics import assert_close

TEXT = "the king and the queen"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference(tiny_model_folder):
    """The model the command loads, run directly: what every CSV is compared with."""
    return load_tracing_model(str(tiny_model_folder))


def export(capsys, tiny_model_folder, *args: str) -> tuple[int, str, str]:
    """Run ``attention-explorer export`` in this process; (status, stdout, stderr)."""
    code = app_module.main(["export", "--model", str(tiny_model_folder), *args])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


# ---------------------------------------------------------------------- CSV = the trace
def test_grid_csv_has_every_weight_of_the_trace(qtbot, capsys, tmp_path, tiny_model_folder, reference):
    out = tmp_path / "grid.csv"
    code, stdout, _ = export(capsys, tiny_model_folder, "--text", TEXT, "--view", "grid", "--out", str(out))
    assert code == 0 and stdout.strip() == str(out)
    header, rows = read_csv(out)
    trace = reference.trace(TEXT)
    L, H, T, _ = trace.pattern.shape
    assert header == ["layer", "head", "query", "query_token", "key", "key_token", "weight"]
    assert len(rows) == L * H * T * T
    got = np.array([float(r[6]) for r in rows]).reshape(L, H, T, T)
    assert_close(got, trace.pattern, what="weights")
    assert [r[3] for r in rows[:T * T:T]] == list(trace.token_strings)


def test_head_csv_is_the_matrix_as_shown(qtbot, capsys, tmp_path, tiny_model_folder, reference):
    trace = reference.trace(TEXT)
    tokens = list(trace.token_strings)
    out = tmp_path / "head.csv"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "head:1.2", "--out", str(out))[0] == 0
    header, rows = read_csv(out)
    assert header == ["query \\ key", *tokens]  # key tokens across, one row per query
    assert [r[0] for r in rows] == tokens
    assert_close(np.array([r[1:] for r in rows], dtype=float), trace.pattern[1, 2], what="head 1.2")

    # masked scores in the 3Blue1Brown layout: keys down the side, −∞ above the diagonal
    out = tmp_path / "masked.csv"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "head:0.3", "--mode", "masked",
                  "--3b1b", "--out", str(out))[0] == 0
    header, rows = read_csv(out)
    assert header == ["key \\ query", *tokens]
    got = np.array([r[1:] for r in rows], dtype=float)
    expected = np.where(np.triu(np.ones((len(tokens),) * 2, dtype=bool), 1), -np.inf, trace.scores[0, 3]).T
    assert_close(got, expected, what="masked scores")  # the −∞ in the same cells

    # the first token hidden: its column goes and each row is renormalised
    out = tmp_path / "hidden.csv"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "head:1.0", "--hide-first",
                  "--out", str(out))[0] == 0
    header, rows = read_csv(out)
    assert header[1:] == tokens[1:]
    kept = trace.pattern[1, 0][:, 1:].astype(np.float64)
    totals = kept.sum(axis=1, keepdims=True)  # the first query sees only the hidden token: a row of 0
    expected = np.divide(kept, totals, out=np.zeros_like(kept), where=totals > 0)
    assert_close(np.array([r[1:] for r in rows], dtype=float), expected, what="first token hidden")


def test_next_token_csv_matches_the_logits_and_the_cuts(qtbot, capsys, tmp_path, tiny_model_folder, reference):
    trace = reference.trace(TEXT, logit_positions="all")
    info = reference.info()
    out = tmp_path / "next.csv"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "next", "--out", str(out))[0] == 0
    header, rows = read_csv(out)
    assert header == ["rank", "token_id", "token", "logit", "probability", "before_cuts"]
    ids = [int(r[1]) for r in rows]
    logits, probs = trace.logits_at(-1), trace.probs_at(-1)
    assert ids == list(np.argsort(-logits, kind="stable")[:len(rows)])
    assert [r[2] for r in rows] == [info.vocabulary[i] for i in ids]
    assert_close([float(r[3]) for r in rows], logits[ids], what="logits")
    assert_close([float(r[4]) for r in rows], probs[ids], what="probabilities")

    # another query position, T = 0.7 and top-k 3: the sampler's distribution after the cut
    out = tmp_path / "next-cut.csv"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "next", "--query", "2",
                  "--temperature", "0.7", "--top-k", "3", "--out", str(out))[0] == 0
    _, rows = read_csv(out)
    dist = next_token_distribution(trace.logits_at(2).astype(np.float64), 0.7, 3, None)
    ids = [int(r[1]) for r in rows]
    assert_close([float(r[3]) for r in rows], trace.logits_at(2)[ids], what="logits")
    assert_close([float(r[4]) for r in rows], dist.probs[ids], what="after the cut")
    assert_close([float(r[5]) for r in rows], dist.tempered[ids], what="before the cut")
    assert sum(float(r[4]) > 0 for r in rows) == 3


def test_embeddings_csv_is_the_projection_and_the_analogy(qtbot, capsys, tmp_path, tiny_model_folder, reference):
    info = reference.info()
    index = EmbeddingIndex(info.embedding_table, info.vocabulary)
    out = tmp_path / "embeddings.csv"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "embeddings", "--out", str(out))[0] == 0
    header, rows = read_csv(out)
    assert header == ["word", "x", "y", "role", "cosine"]
    plane = analogy_plane(*(index.vector(w) for w in ("man", "woman", "king")))  # the panel's default
    target = index.vector("woman") - index.vector("man") + index.vector("king")
    cosines = index.cosines_to(target)
    by_role = {r[3]: r for r in rows}
    assert by_role["a"][0] == "man" and by_role["b"][0] == "woman" and by_role["c"][0] == "king"
    for word, x, y, role, cosine in rows:
        vector = target if role == "target" else index.vector(word)
        assert_close([float(x), float(y)], plane(vector)[0], what=f"{word} (x, y)")
        if role != "target":  # a cosine's scale is 1
            assert_close(float(cosine), float(cosines[index.token_id(word)]), scale=1.0, what=f"{word} cosine")
    neighbours = [r[0] for r in rows if r[3].startswith("neighbour")]
    assert neighbours == [n.token for n in index.solve("man", "woman", "king", k=10)]


def test_drift_csv_has_the_cosines_per_layer(qtbot, capsys, tmp_path, tiny_model_folder, reference):
    sentences = ["american shrew mole", "one mole of carbon dioxide", "take a biopsy of the mole"]
    out = tmp_path / "drift.csv"
    code, _, err = export(capsys, tiny_model_folder, "--text", " | ".join(sentences), "--word", "mole",
                          "--view", "drift", "--out", str(out))
    assert code == 0, err
    header, rows = read_csv(out)
    assert header == ["layer", "point", "sentence_a", "sentence_b", "cosine"]
    paths = []
    for s in sentences:
        trace = reference.trace(s)
        position = next(i for i, t in enumerate(trace.token_strings) if t == "mole")
        paths.append(trajectory(trace, position))
    n_points = len(paths[0])
    assert len(rows) == n_points * 3
    for layer, point, a, b, cosine in rows:
        j = int(layer)
        expected = pairwise_cosines(np.stack([p[j] for p in paths]))[sentences.index(a), sentences.index(b)]
        assert_close(float(cosine), float(expected), scale=1.0, what=f"{a} / {b}, {point}")  # a cosine's scale is 1
        assert point == ("embedding" if j == 0 else f"after block {j - 1}")


def test_step_csv_is_one_row_per_key_of_the_head_steps(qtbot, capsys, tmp_path):
    from model.analysis.stepthrough import head_steps

    model = load_tracing_model("lesson:seed-003")
    text = "Your journey starts with one step"
    out = tmp_path / "step.csv"
    code, _, err = export(capsys, "lesson:seed-003", "--text", text, "--view", "step:0.0.-5", "--out", str(out))
    assert code == 0, err
    header, rows = read_csv(out)
    assert header == ["key", "token", "dot", "scaled", "masked", "weight"]
    trace = model.trace(text)
    steps = head_steps(trace, model.info().head_weights, 0, 0, trace.n_tokens - 5)
    assert [r[1] for r in rows] == list(steps.tokens)
    for column, values in ((2, steps.dots), (3, steps.scaled), (4, steps.masked), (5, steps.weights)):
        assert_close([float(r[column]) for r in rows], values, what=header[column])


# ---------------------------------------------------------------------- pictures
def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()  # parses as XML, or raises
    return ["".join(e.itertext()).strip() for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "text"]


def test_svg_parses_and_keeps_token_labels_as_text(qtbot, capsys, tmp_path, tiny_model_folder, reference):
    out = tmp_path / "head.svg"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "head:0.1", "--mode", "masked",
                  "--out", str(out))[0] == 0
    texts = svg_texts(out)
    for token in ("[CLS]", "king", "queen"):
        assert token in texts
    assert "−∞" in texts
    svg = out.read_text(encoding="utf-8")
    assert "patternTransform" in svg  # the −∞ hatching scaled back to screen size

    out = tmp_path / "grid.svg"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "grid", "--out", str(out))[0] == 0
    assert {"L0", "L1", "H0", "H3"} <= set(svg_texts(out))


def test_png_has_the_requested_width_and_the_view_aspect(qtbot, capsys, tmp_path, tiny_model_folder):
    out = tmp_path / "next.png"
    assert export(capsys, tiny_model_folder, "--text", TEXT, "--view", "next", "--size", "900x600",
                  "--width", "1500", "--out", str(out))[0] == 0
    image = QImage(str(out))
    assert image.width() == 1500
    band = 1500 / 40 * 1.2 + 2 * 0.6 * 1500 / 40 + 2  # the title band (explorer/picture_title.py): one line
    assert 600 < image.height() < 1500 * 600 / 900 + band  # the view (the panel minus its controls) and its title


def test_window_exports_the_tab_shown_or_the_focused_grid_at_twice_its_size(qtbot, make_window, tmp_path):
    window = make_window(text=TEXT)
    window.show_tab(window.head_detail)
    assert window.export_panel() is window.head_detail
    assert window.export_to(str(tmp_path / "head.csv"))
    header, rows = read_csv(tmp_path / "head.csv")
    assert [r[0] for r in rows] == list(window.trace.token_strings)
    window.activateWindow()
    window.heads_grid.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.heads_grid, timeout=2000)
    assert window.export_panel() is window.heads_grid
    assert window.export_to(str(tmp_path / "grid.png"))
    image, view = QImage(str(tmp_path / "grid.png")), window.heads_grid.view
    assert image.width() == 2 * view.width()
    assert 2 * view.height() + 20 < image.height() < 2 * view.height() + 200  # the view under its title band
    assert "Exported" in window.statusBar().currentMessage()


def test_window_shows_a_failed_export_in_the_banner(qtbot, make_window, tmp_path):
    window = make_window(text=TEXT)
    assert not window.export_to(str(tmp_path / "missing" / "grid.png"), window.heads_grid)
    assert window.banner.isVisible() and window.banner.property("error")
    assert "does not exist" in window.banner.text()
    assert not (tmp_path / "missing").exists()
    assert not window.export_to(str(tmp_path / "drift.csv"), window.drift)  # not run yet: says so
    assert "Run" in window.banner.text()
    assert not (tmp_path / "drift.csv").exists()


class PaintedPanel(Panel):
    """A panel that paints itself with QPainter and has no pyqtgraph view, as the
    step-through panel does: it needs only export_table to export all three formats."""

    title = "Painted"

    def paintEvent(self, event):  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.drawText(20, 40, "softmax(q·k / √d)")
        painter.end()

    def export_table(self):
        return ["key", "token", "dot", "scaled", "masked", "weight"], [[0, "[CLS]", 2.0, 1.0, 1.0, 1.0]]


def test_a_panel_without_a_view_exports_itself(qtbot, tmp_path):
    panel = PaintedPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 120)
    panel.show()
    export_panel(panel, tmp_path / "p.png")
    assert QImage(str(tmp_path / "p.png")).width() == 600
    export_panel(panel, tmp_path / "p.svg")
    assert "softmax(q·k / √d)" in svg_texts(tmp_path / "p.svg")
    export_panel(panel, tmp_path / "p.csv")
    assert read_csv(tmp_path / "p.csv")[0] == ["key", "token", "dot", "scaled", "masked", "weight"]
    with pytest.raises(ExportError, match="no numbers"):
        export_panel(Panel(), tmp_path / "nothing.csv")


# ---------------------------------------------------------------------- atomic writes
def test_a_failed_write_leaves_nothing_behind_and_the_old_file_intact(tmp_path):
    target = tmp_path / "out.csv"

    def half_then_fail(temp: Path) -> None:
        temp.write_text("layer,head\n0,")
        raise RuntimeError("disk full")

    with pytest.raises(ExportError, match="disk full"):
        write_atomically(target, half_then_fail)
    assert list(tmp_path.iterdir()) == []

    write_csv(target, ["a"], [[1.5]])
    with pytest.raises(ExportError):
        write_atomically(target, half_then_fail)
    assert target.read_text() == "a\n1.5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_csv_numbers_round_trip_exactly():
    values = [np.float32(0.1), np.float32(1e-30), -math.inf, 1 / 3, np.int64(7)]
    row = next(csv.reader(csv_text(["v"] * 5, [values]).splitlines()[1:]))
    assert np.float32(row[0]) == np.float32(0.1) and np.float32(row[1]) == np.float32(1e-30)
    assert float(row[2]) == -math.inf and float(row[3]) == 1 / 3 and row[4] == "7"


# ---------------------------------------------------------------------- the command's errors
@pytest.mark.parametrize("changes, reason", [
    ({"--view": "heads"}, "unknown view 'heads'"),
    ({"--view": "head:4.0"}, "layer 4 is out of range"),
    ({"--view": "head:0.9"}, "head 9 is out of range"),
    ({"--view": "head:1"}, "write the head view as --view head:L.H"),
    ({"--view": "head:0.0", "--query": "40"}, "query position 40 is out of range"),
    ({"--text": "   "}, "--text is empty"),
    ({"--out": "/nonexistent-folder/x.png"}, "the folder /nonexistent-folder does not exist"),
    ({"--out": "figure.jpg"}, "cannot tell the format"),
    ({"--view": "next", "--temperature": "9"}, "--temperature must be between 0 and 2.5"),
    ({"--model": "/nonexistent-model"}, "could not load the model"),
    ({"--view": "drift"}, "needs at least two sentences"),
    ({"--mode": "softmax"}, "invalid choice: 'softmax'"),
])
def test_bad_input_exits_non_zero_with_one_line(qtbot, capsys, tmp_path, tiny_model_folder, changes, reason):
    argv = {"--model": str(tiny_model_folder), "--text": TEXT, "--view": "grid",
            "--out": str(tmp_path / "out.png"), **changes}
    code = app_module.main(["export", *(part for item in argv.items() for part in item)])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1 and reason in err, err
    assert list(tmp_path.iterdir()) == []


def test_the_command_runs_headless_in_a_fresh_process(tmp_path, tiny_model_folder):
    out = tmp_path / "head.svg"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "export", "--model", str(tiny_model_folder), "--text", TEXT,
         "--view", "head:1.1", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert result.stderr == ""
    assert "queen" in svg_texts(out)


def test_the_window_launch_still_takes_model_and_text():
    args = app_module.parse_args(["--model", "bundled", "--text", "export"])
    assert (args.model, args.text) == ("bundled", "export")


# Tabs that reached main after the export work: their PNG/SVG export works (the whole panel
# is drawn), their CSV says "no numbers to export" until they implement export_table.
NO_CSV_YET: set[str] = set()


def test_every_tab_panel_and_the_grid_export_their_numbers():
    """A new tab (step-through, lens) must say what its CSV holds: Ctrl+E offers CSV on every tab."""
    from explorer.views.heads_grid import HeadsGridPanel
    from explorer.views.registry import tab_panel_classes
    from explorer.views.step_through import StepThroughPanel

    for cls in [HeadsGridPanel, StepThroughPanel, *tab_panel_classes()]:
        if cls.__name__ in NO_CSV_YET:
            continue
        assert cls.export_table is not Panel.export_table, f"{cls.__name__} has no export_table"


@pytest.mark.parametrize("args, reason", [
    (["--scale", "inf"], "--scale"), (["--scale", "1e308"], "--scale"), (["--scale", "nan"], "--scale"),
    (["--top-k", str(2**40)], "--top-k"), (["--query", str(10**15)], "--query"), (["--top-p", "nan"], "--top-p"),
    (["--temperature", "inf"], "--temperature"), (["--width", str(2**40)], "--width"),
])
def test_out_of_range_numbers_are_one_line_errors(qtbot, capsys, tmp_path, tiny_model_folder, args, reason):
    code, out, err = export(capsys, tiny_model_folder, "--view", "next", "--text", TEXT,
                            "--out", str(tmp_path / "n.csv"), *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and reason in err and "Traceback" not in err


def test_a_file_name_longer_than_the_file_system_allows_is_a_one_line_error(qtbot, capsys, tmp_path,
                                                                               tiny_model_folder):
    code, _out, err = export(capsys, tiny_model_folder, "--view", "grid", "--text", TEXT,
                             "--out", str(tmp_path / ("x" * 300 + ".png")))
    assert code == 2 and "longer than this file system allows" in err and len(err.strip().splitlines()) == 1
