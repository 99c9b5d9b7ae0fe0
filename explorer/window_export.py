"""Export (Ctrl+E): the view on screen to PNG, SVG or CSV, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
)

if TYPE_CHECKING:  # the panels (pyqtgraph, NumPy: half the time to a shown window) come after it shows
    from explorer.views.base import Panel


class Exports:
    """Part of :class:`explorer.window.MainWindow` (a mixin: it reads and sets the window's own
    attributes). Export (Ctrl+E)."""

    # ------------------------------------------------------------------ export
    def export_panel(self) -> Panel:
        """What Ctrl+E exports: the heads grid when it has the keyboard focus, else the tab shown."""
        self._build_panels()
        focus = QApplication.focusWidget()
        if focus is not None and (focus is self.heads_grid or self.heads_grid.isAncestorOf(focus)):
            return self.heads_grid
        return self.current_tab_panel()

    def export_to(self, path: str, panel: Panel | None = None, width: int | None = None) -> bool:
        """Write ``panel`` (default: :meth:`export_panel`) to ``path``; a failure goes to the banner."""
        from explorer.export import ExportError, export_panel
        from explorer.picture_title import panel_title

        panel = panel or self.export_panel()
        panel.refresh()
        model = self.model_info.name if self.model_info is not None else ""
        try:
            written = export_panel(panel, path, width, panel_title(panel, model, getattr(getattr(panel, "trace", None), "text", None) or self.text_box.text()))
        except ExportError as exc:
            self._show_banner(QCoreApplication.translate("MainWindow", "Export failed: {error}").format(error=exc), error=True)
            return False
        self.statusBar().showMessage(QCoreApplication.translate("MainWindow", "Exported {view} to {path}").format(
            view=panel.tab_title() if panel.title else QCoreApplication.translate("MainWindow", "heads grid"), path=written), 5000)
        return True

    def _on_export(self) -> None:
        from explorer.export import FORMATS

        panel = self.export_panel()
        name = (panel.title or "heads grid").lower().replace(" ", "-")
        filters = {"png": QCoreApplication.translate("MainWindow", "PNG image, 2× (*.png)"), "svg": QCoreApplication.translate("MainWindow", "SVG vector image (*.svg)"),
                   "csv": QCoreApplication.translate("MainWindow", "CSV numbers (*.csv)")}
        last = str(self.settings.value("export_folder", ""))
        path, chosen = QFileDialog.getSaveFileName(
            self, QCoreApplication.translate("MainWindow", "Export the {view} view").format(view=panel.tab_title() if panel.title else QCoreApplication.translate("MainWindow", "heads grid")),
            str(Path(last or Path.home()) / f"{name}.png"),
            ";;".join(filters.values()))
        if not path:
            return
        if Path(path).suffix.lower() not in FORMATS:  # the dialog need not add the filter's extension
            path += "." + next((fmt for fmt, text in filters.items() if text == chosen), "png")
        self.settings.setValue("export_folder", str(Path(path).parent))
        self.export_to(path, panel)
