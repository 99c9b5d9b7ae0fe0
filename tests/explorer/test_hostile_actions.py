"""UI actions in an order a person can take that used to crash or leak (issue #31)."""

from __future__ import annotations

from explorer.names import STAGES, Stage


def test_the_last_blocks_unembedding_stage_kept_while_an_earlier_layer_is_selected(make_window, qtbot):
    """At the final stage ("unembed") of the last block, choosing a head of an earlier block
    kept the stage; that block has no output, and painting it raised in paintEvent (PySide6
    then aborts the app). The canvas shows the nearest stage that block has."""
    window = make_window()
    window.finish_building()
    panel = window.step_through
    window.show_tab(panel)
    last = window.model_info.n_layers - 1
    window.set_selection(window.selection.with_(layer=last, head=0, stage=STAGES.index(Stage.UNEMBED)))
    qtbot.waitUntil(lambda: panel.block is not None and panel.block.steps.layer == last, timeout=10000)
    panel.canvas.grab()
    assert STAGES[panel.canvas.stage] == Stage.UNEMBED
    window.set_selection(window.selection.with_(layer=0))
    qtbot.waitUntil(lambda: panel.block is not None and panel.block.steps.layer == 0, timeout=10000)
    panel.refresh()
    panel.canvas.grab()  # raised AttributeError: 'NoneType' object has no attribute 'kind'
    assert STAGES[panel.canvas.stage] == Stage.NEXT_BLOCK
