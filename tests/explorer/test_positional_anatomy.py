"""The positional-encoding and model-anatomy panels draw the model's own numbers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from explorer.views.anatomy import AnatomyPanel, gpt3_rows
from explorer.views.base import Selection
from explorer.views.positional import PositionalPanel
from model.loading import load_tracing_model
from tests.numerics import assert_close


@pytest.fixture(scope="module")
def bundled():
    model = load_tracing_model("bundled")
    return model.info(), model.trace("the king met the queen")


def show(qtbot, panel, info, trace):
    qtbot.addWidget(panel)
    panel.resize(1280, 720)
    panel.set_model_info(info)
    panel.set_trace(trace)
    panel.set_selection(Selection(query=-1))
    panel.show()
    panel.refresh()
    panel.grab()
    return panel


def hover(panel, x, y):
    panel.mouseMoveEvent(QMouseEvent(QEvent.MouseMove, QPointF(x, y), QPointF(x, y), Qt.NoButton,
                                     Qt.NoButton, Qt.NoModifier))


def test_sinusoidal_table_formula_and_hovered_value(qtbot, bundled):
    info, trace = bundled
    panel = show(qtbot, PositionalPanel(), info, trace)
    n_ctx, d = panel.table.shape
    assert (n_ctx, d) == (128, 256) and panel.positional == "sinusoidal"
    k, i = 5, 12
    r = panel._map_rect
    hover(panel, r.left() + (i + 0.5) * r.width() / d, r.top() + (k + 0.5) * r.height() / n_ctx)
    expected = np.sin(k / 10000 ** (12 / 256))
    assert panel.hover.startswith("P(5, 12) = sin(5 / 10000^{12/256})")
    assert f"{expected:+.4f}".replace("-", "−") in panel.hover
    assert_close(panel.table[: trace.n_tokens], trace.embed_pos, what="the panel's table vs the trace's")
    assert_close(np.diag(panel.cosine), 1.0, what="cos(P(k), P(k))")
    c = panel._cos_rect
    hover(panel, c.left() + 3.5 * c.width() / 128, c.top() + 0.5 * c.height() / 128)
    assert panel.hover.startswith("cos(P(0), P(3))")


def test_learned_positions_say_there_is_no_formula(qtbot, tmp_path):
    from tests.model.test_hf_gpt2 import make_gpt2

    make_gpt2(tmp_path / "gpt2")
    model = load_tracing_model(tmp_path / "gpt2")
    panel = show(qtbot, PositionalPanel(), model.info(), model.trace("the king"))
    assert panel.positional == "learned" and "learned" in panel.formula()
    assert panel.table.shape == (24, 32)


def test_anatomy_counts_add_up_and_gpt3_matches_document_000(qtbot, bundled):
    info, trace = bundled
    panel = show(qtbot, AnatomyPanel(), info, trace)
    assert panel.total == load_tracing_model("bundled").module.num_parameters()
    rows = {what: n for what, _, n, _ in gpt3_rows()}
    assert rows["embedding W_E"] == 617_558_016  # "6.17亿"
    assert rows["one head"] == 6_291_456  # "约630w"
    assert round(rows["one attention layer"], -8) == 600_000_000  # "约6亿"
