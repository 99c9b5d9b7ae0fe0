"""The heads grid coloured by direct logit attribution (issue #26): the "who wrote it" toggle
asks the model thread for each head's direct contribution to the target at the selected token,
paints every tile in its head's value on a diverging scale centred at 0, says in the legend
what the colours are, and a click on a coloured tile still selects that head."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from explorer.views.base import Selection
from explorer.views.heads_grid import GAP, HeadsGridPanel
from model.analysis.dla import attribute
from model.core.paths import BUNDLED
from model.loading import load_tracing_model
from tests.numerics import assert_close

TEXT = "the cat sat on the mat and the cat"


@pytest.fixture(scope="module")
def bundled():
    model = load_tracing_model(BUNDLED)
    return model, model.trace(TEXT, logit_positions="all")


def test_the_toggle_colours_each_head_by_its_direct_contribution(qtbot, bundled):
    from model.work import probes

    model, trace = bundled
    grid = HeadsGridPanel()
    qtbot.addWidget(grid)
    asked = []

    def answer(request, _everyone):
        asked.append(request)
        grid.set_work_result(request, probes.run(model, request, trace))

    grid.work_requested.connect(answer)
    grid.resize(500, 700)
    grid.set_model_info(model.info())
    grid.set_trace(trace)
    grid.set_selection(Selection(0, 0, 5, 0))
    grid.show()
    grid.refresh()
    assert not grid.sweep_overlay.isVisible() and not asked  # off: nothing asked, nothing coloured
    grid.controls.dla.setChecked(True)
    grid.refresh()
    assert [type(r).__name__ for r in asked] == ["HeadDla"] and asked[0].position == 5
    assert grid.sweep_overlay.isVisible() and grid.sweep_legend.isVisible()
    expected = attribute(model.module, trace, 5, int(np.argmax(trace.logits_at(5)))).heads  # (L, H)
    image = grid.sweep_overlay.image
    T, step = trace.n_tokens, trace.n_tokens + GAP
    L, H = expected.shape
    painted = np.array([[image[row * step + T // 2, col * step + T // 2]
                         for col, row in (grid.arrangement.place(layer, head)[::-1] for head in range(H))]
                        for layer in range(L)])
    assert_close(painted, expected, 1e-5, what="each tile's colour value")
    lo, hi = grid.sweep_overlay.levels
    assert lo == -hi and hi == pytest.approx(np.abs(expected).max(), rel=1e-5)  # diverging, centred at 0
    assert "direct contribution" in grid.sweep_legend.caption
    # another token: asked again, for it
    grid.set_selection(Selection(0, 0, 7, 0))
    grid.refresh()
    assert asked[-1].position == 7 and grid.dla.position == 7
    # a click on a coloured tile selects its head
    chosen = []
    grid.selection_requested.connect(chosen.append)
    row, col = grid.arrangement.place(2, 3)

    class Click:
        def scenePos(self):  # noqa: N802
            return grid.plot.vb.mapViewToScene(QPointF(col * step + T / 2, row * step + T / 2))

        def modifiers(self):
            return Qt.NoModifier

    grid._on_mouse_clicked(Click())
    assert chosen and chosen[-1]["layer"] == 2 and chosen[-1]["head"] == 3
    grid.controls.dla.setChecked(False)
    grid.refresh()
    assert not grid.sweep_overlay.isVisible()
