from __future__ import annotations

import numpy as np
import pytest

from explorer.views.drift import DriftPanel
from explorer.views.embeddings import EmbeddingPanel
from model.analysis.analogy import EmbeddingIndex
from model.core.paths import BUNDLED_MODEL_DIR
from model.tracer.runner import TracingModel
from tests.numerics import assert_differ


@pytest.fixture(scope="module")
def bundled_info():
    if not (BUNDLED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("the bundled model is not in assets/teaching-model")
    return TracingModel.from_folder(BUNDLED_MODEL_DIR).info()


@pytest.mark.parametrize(
    "a, b, c, expected",
    [("man", "woman", "king", "queen"), ("france", "paris", "italy", "rome"), ("cat", "cats", "dog", "dogs")],
)
def test_analogies_on_the_bundled_table(bundled_info, a, b, c, expected):
    index = EmbeddingIndex(bundled_info.embedding_table, bundled_info.vocabulary)
    top3 = [n.token for n in index.solve(a, b, c, k=3)]
    assert expected in top3


@pytest.fixture
def panel(qtbot, bundled_info):
    p = EmbeddingPanel()
    qtbot.addWidget(p)
    p.set_model_info(bundled_info)
    return p


def test_the_panel_solves_king_minus_man_plus_woman(panel):
    assert "queen" in [panel.answer_table.item(r, 0).text() for r in range(3)]
    assert "man : woman :: king :" in panel.message.text()
    assert panel.arrows[0].getData()[0] is not None and len(panel.arrows[0].getData()[0]) == 2
    assert panel.projection_box.currentData() == "plane"  # the parallelogram shows undistorted there


def test_answers_exclude_the_inputs_and_match_a_brute_force_reference(panel, bundled_info):
    table, vocab = bundled_info.embedding_table.astype(np.float64), bundled_info.vocabulary
    ids = {w: vocab.index(w) for w in ("man", "woman", "king")}
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    target = unit[ids["woman"]] - unit[ids["man"]] + unit[ids["king"]]
    scores = unit @ (target / np.linalg.norm(target))
    scores[list(ids.values())] = -np.inf
    expected = [vocab[i] for i in np.argsort(-scores)[:10]]
    shown = [panel.answer_table.item(r, 0).text() for r in range(panel.answer_table.rowCount())]
    assert shown == expected
    assert not {"man", "woman", "king"} & set(shown)


def test_pca_axes_stay_put_when_the_sentence_changes(panel, bundled_info, qtbot):
    runner = TracingModel.from_folder(BUNDLED_MODEL_DIR)
    panel.projection_box.setCurrentIndex(panel.projection_box.findData("pca"))
    panel.sentence_box.setChecked(True)
    panel.show()
    panel.set_trace(runner.trace("the king and the queen"))
    panel.refresh()
    before = panel.scatter.getData()
    sentence_before = panel.sentence_scatter.getData()
    panel.set_trace(runner.trace("one mole of carbon dioxide in the eiffel tower"))
    panel.refresh()
    after = panel.scatter.getData()
    np.testing.assert_array_equal(before[0], after[0])  # the same projection of the same words
    np.testing.assert_array_equal(before[1], after[1])
    assert len(panel.sentence_scatter.getData()[0]) != len(sentence_before[0])


def test_the_plural_direction_table(panel):
    rows = {panel.dot_table.item(r, 0).text(): float(panel.dot_table.item(r, 1).text())
            for r in range(panel.dot_table.rowCount())}
    assert rows["dogs"] > rows["dog"] and rows["apples"] > rows["apple"] and rows["kings"] > rows["king"]


def test_an_unknown_word_gets_a_message_not_an_exception(panel):
    panel.c.setText("qwertyzxcv")
    panel.solve()
    assert "not a single token" in panel.message.text()
    assert panel.answer_table.rowCount() == 0


def test_drift_panel_requests_traces_and_draws_identical_starts(qtbot, tracing_model):
    panel = DriftPanel()
    qtbot.addWidget(panel)
    panel.set_model_info(tracing_model.info())
    with qtbot.waitSignal(panel.traces_requested) as blocker:
        panel.run()
    texts = blocker.args[0]
    assert texts == ("american shrew mole", "one mole of carbon dioxide", "take a biopsy of the mole")
    panel.set_batch_traces(texts, tuple(tracing_model.trace(t) for t in texts))
    starts = np.stack([p[0] for p in panel.paths])
    np.testing.assert_array_equal(starts, np.repeat(starts[:1], 3, axis=0))  # one row of the embedding table
    assert_differ(panel.paths[0][1], panel.paths[1][1], what="after the first block")
    assert panel.table.item(0, 1).text() == "1.000"
    assert panel.table.rowCount() == 1 + tracing_model.cfg.n_layers


def test_drift_needs_the_word_in_every_sentence(qtbot, tracing_model):
    panel = DriftPanel()
    qtbot.addWidget(panel)
    texts = ("the mole", "the king")
    panel.set_batch_traces(texts, tuple(tracing_model.trace(t) for t in texts))
    assert "does not occur" in panel.message.text()


def test_the_window_runs_drift_sentences_on_the_worker(qtbot, make_window):
    window = make_window()
    window.drift.run()
    qtbot.waitUntil(lambda: len(window.drift.paths) == 3, timeout=10000)
    assert "through 2 blocks" in window.drift.message.text()


def test_the_drift_and_ab_tabs_asking_at_once_each_get_their_own_traces(qtbot, make_window):
    window = make_window()
    window.finish_building()
    ab = window.panel("ab")
    ab.text_b.setText("the cat sat")
    window.worker.load_model(window.current_source)  # both wait behind a load: neither replaces the other
    window.drift.run()
    ab.compare()
    qtbot.waitUntil(lambda: len(window.drift.paths) == 3 and ab.trace_b is not None, timeout=10000)
    assert "through 2 blocks" in window.drift.message.text()
    assert ab.trace_b.text == "the cat sat"


def test_the_drift_panel_leaves_its_tracing_state_after_a_batch_error(qtbot, make_window, tmp_path):
    window = make_window(source=tmp_path / "no-such-model", wait=False)  # nothing loads: every batch fails
    qtbot.waitUntil(lambda: "Could not load" in window.banner.text(), timeout=10000)
    window.show_tab(window.drift)
    window.drift.run()
    assert window.drift.message.text() == "tracing…"
    qtbot.waitUntil(lambda: window.drift.message.text() != "tracing…", timeout=10000)
    assert window.drift.message.text() == "No model is loaded." and window.drift.paths == []


def test_capitalised_words_fall_back_to_lower_case_in_an_uncased_vocabulary(panel):
    panel.a.setText("Man")
    panel.c.setText(" King ")
    panel.solve()
    assert "queen" in [panel.answer_table.item(r, 0).text() for r in range(3)]


def test_a_cased_vocabulary_keeps_the_case_typed(panel):
    tokens = ["paris", "Paris", "france", "France", "rome", "Rome", "italy", "Italy"]
    table = np.random.default_rng(0).normal(size=(len(tokens), 8)).astype(np.float32)
    panel.index = EmbeddingIndex(table, tokens)
    fields = ((panel.a, "France"), (panel.b, "Paris"), (panel.c, "ITALY"),
              (panel.direction_a, "paris"), (panel.direction_b, "Paris"))
    for field, word in fields:
        field.setText(word)
    panel.solve()
    # "ITALY" is not in the vocabulary as typed, so it means "italy"
    assert panel.message.text().startswith("France : Paris :: italy :"), panel.message.text()
    shown = {panel.answer_table.item(r, 0).text() for r in range(panel.answer_table.rowCount())}
    assert not {"France", "Paris", "italy"} & shown
