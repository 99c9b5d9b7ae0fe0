"""Head badges as a sortable table: every head's previous-token, first-token (sink),
induction and duplicate-token score, measured on probe sequences by the model thread when a
model loads (:mod:`model.analysis.badges`). The grid shows the same badges as letters on its tiles."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QLabel, QProgressBar, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from explorer.views.base import Panel
from explorer.views.flow import CompactTable
from model.analysis.badges import BADGE_MARKS, BADGES, HeadBadges
from model.core.info import ModelInfo
from model.work import requests as rq


class _Number(QTableWidgetItem):
    """Sorts by value, not by text."""

    def __init__(self, value: float, text: str) -> None:
        super().__init__(text)
        self.setData(Qt.UserRole, value)
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def __lt__(self, other) -> bool:
        return self.data(Qt.UserRole) < other.data(Qt.UserRole)


class HeadRolesPanel(Panel):
    title = QT_TRANSLATE_NOOP("Panel", "Head roles")
    key = "roles"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.badges: HeadBadges | None = None
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.error = QLabel("")  # why the scores could not be computed, for this model only
        self.error.setWordWrap(True)
        self.error.hide()
        self.progress = QProgressBar()
        self.progress.hide()
        self.table = CompactTable(0, 6)  # it takes the room the notes leave and scrolls inside
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.verticalHeader().hide()
        self.table.cellClicked.connect(self._on_row_clicked)
        self.retranslate()
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)

    def retranslate(self) -> None:
        self.heading.setText(self.tr("What each head does, measured"))
        self.note.setText(self.tr(
            "Mean attention weights on probe sequences. Previous-token (P): to the token just before. "
            "First-token (S, the attention sink): to position 0. Induction (I): on random tokens repeated "
            "once, from the second copy to the token after the same token in the first. Duplicate-token (D): "
            "to the same token in the first copy. Click a column to sort; click a row to select the head."))
        self.table.setHorizontalHeaderLabels([self.tr("head"), self.tr("previous-token"), self.tr("first-token"),
                                              self.tr("induction"), self.tr("duplicate-token"), self.tr("badges")])
        super().retranslate()

    def on_theme(self, theme) -> None:
        self.heading.setFont(theme.font(1, bold=True))
        self.note.setFont(theme.font(-2))
        self.table.setFont(theme.font(0))
        self.table.setMinimumHeight(int(4 * QFontMetricsF(theme.font(0)).height() * 1.4))

    def on_model_info(self, info: ModelInfo) -> None:
        self.badges = None
        self.error.clear()
        self.error.hide()
        self.progress.setValue(0)
        self.progress.show()

    def set_work_progress(self, request, done: int, total: int) -> None:
        if isinstance(request, rq.Badges):
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.show()

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Badges):
            self.badges = result
            self.progress.hide()
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Badges):
            self.progress.hide()
            self.error.setText(message)
            self.error.show()

    def redraw(self) -> None:
        b = self.badges
        if b is None:
            self.table.setRowCount(0)
            return
        L, H = b.previous_token.shape
        self.table.setSortingEnabled(False)
        self.table.setRowCount(L * H)
        for row, (layer, head) in enumerate((layer, head) for layer in range(L) for head in range(H)):
            item = _Number(layer * 10_000 + head, f"{layer}.{head}")
            item.setData(Qt.UserRole + 1, (layer, head))
            self.table.setItem(row, 0, item)
            for col, badge in enumerate(BADGES, start=1):
                value = float(b.score(badge)[layer, head])
                cell = _Number(value, f"{value:.3f}")
                if value >= BADGE_MARKS[badge][1]:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.table.setItem(row, col, cell)
            self.table.setItem(row, 5, QTableWidgetItem(b.marks(layer, head)))
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()

    def _on_row_clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            layer, head = item.data(Qt.UserRole + 1)
            self.request_selection(layer=layer, head=head)

    def export_table(self) -> tuple[list[str], list[list]] | None:
        b = self.badges
        if b is None:
            raise ValueError("the heads are still being scored")
        L, H = b.previous_token.shape
        rows = [[layer, head, *(float(b.score(badge)[layer, head]) for badge in BADGES), b.marks(layer, head)]
                for layer in range(L) for head in range(H)]
        return ["layer", "head", *BADGES, "badges"], rows
