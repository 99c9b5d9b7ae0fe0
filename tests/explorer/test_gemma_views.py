"""What the views say about Gemma's local and global layers (issue #27), on a random Gemma 3
config saved by transformers: numbers from the model's own config, in both languages."""

from __future__ import annotations

import pytest

from tests.model.test_hf_gemma import LAYERS, make


@pytest.fixture(scope="module")
def gemma_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gemma-views")
    make(folder, "gemma3-two-bases-untied")
    return folder


def test_positions_explain_the_two_rope_bases_and_the_grid_marks_global_layers(qtbot, make_window, gemma_folder):
    window = make_window(source=gemma_folder, text="the cat sat on the mat and the dog sat too")
    window.finish_building()
    info = window.model_info
    assert info.rope_bases == tuple(1e6 if kind == "full_attention" else 100.0 for kind in LAYERS)
    assert info.layer_windows == tuple(None if kind == "full_attention" else 4 for kind in LAYERS)
    text = window.positions.rope_text()
    assert "two bases" in text and "θ = 100" in text and "θ = 1,000,000" in text and "(L2)" in text
    assert "3 local layers" in text and "last 4 tokens" in text
    grid = window.heads_grid
    grid.refresh(force=True)
    labels = [label for _, label in grid.plot.getAxis("left")._tickLevels[0]]
    assert "L2●" in labels and "L0" in labels and "L0●" not in labels
    assert "global layer" in grid.hover_label.text()
    head = window.head_detail
    window.set_selection(window.selection.with_(layer=0, head=0))
    head.mode_box.setCurrentIndex(head.mode_box.findData("masked"))
    head.refresh(force=True)
    assert "local layer" in head.note.text() and "4" in head.note.text()
