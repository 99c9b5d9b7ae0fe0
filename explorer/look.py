"""The window's look: theme, text size, colour map, presentation mode (F11) and the style sheet; every panel restyled from one Theme."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QApplication,
)

from explorer import palette
from explorer import settings as app_settings


class Look:
    """Part of :class:`explorer.window.MainWindow` (a mixin: it reads and sets the window's own
    attributes). The window's look."""

    # ------------------------------------------------------------------ look
    @property
    def point_size(self) -> int:
        return self.theme.point_size

    @property
    def theme_name(self) -> str:
        return self.theme.name

    @property
    def colours(self) -> dict:
        return self.theme.colours

    def set_theme(self, new: palette.Theme) -> None:
        """Apply a theme (colours, colour map, text size) to the app and every panel."""
        self.theme = new
        if self.heads_grid is None:  # no pyqtgraph yet: _build_panels gives it this theme
            palette.apply_palette(QApplication.instance(), new)
        else:
            from explorer import theme

            theme.apply_to_app(QApplication.instance(), new)
        self._apply_style()
        for panel in self.panels:
            panel.apply_theme(new)

    def set_font_size(self, point_size: int) -> None:
        self.set_theme(self.theme.with_(point_size=app_settings.font_size(point_size)))

    def toggle_theme(self) -> None:
        other = "light" if self.theme.name == "dark" else "dark"
        self.set_theme(palette.make_theme(other, self.theme.point_size, self.theme.colour_map))

    def set_colour_map(self, name: str) -> None:
        self.set_theme(palette.make_theme(self.theme.name, self.theme.point_size, name))

    def toggle_presentation(self) -> None:
        """F11: full screen, menus and status line hidden, text larger; F11 again puts it back."""
        if self._presenting is None:
            self._presenting = (self.isFullScreen(), self.theme.point_size, self.splitter.sizes())
            self.menuBar().hide()
            self.statusBar().hide()
            self.set_font_size(self.theme.point_size + 6)
            self.showFullScreen()
        else:
            was_full, size, sizes = self._presenting
            self._presenting = None
            self.menuBar().show()
            self.statusBar().show()
            self.set_font_size(size)
            if not was_full:
                self.showNormal()
            self.splitter.setSizes(sizes)

    @property
    def presenting(self) -> bool:
        return self._presenting is not None

    def _apply_style(self) -> None:
        c, big = self.colours, self.point_size + 6
        tick = max(13, round(self.point_size * 96 / 72 * 0.8))  # points at 96 dpi, a little under the cap height
        self.setStyleSheet(
            f"QLineEdit#textBox {{ font-size: {big}pt; padding: 6px; }}"
            f"QPushButton#tokenChip {{ font-size: {self.point_size + 1}pt; padding: 3px 8px; border: 1px solid {c['fg']};"
            f" border-radius: 6px; background: {c['panel']}; color: {c['fg']}; }}"
            f"QPushButton#tokenChip:checked {{ background: {c['accent']}; color: {c['bg']}; }}"
            f"QPushButton#tokenChip[unknown=\"true\"] {{ border: 2px dashed {c['error']}; color: {c['error']}; }}"
            f"QPushButton#tokenChip[unknown=\"true\"]:checked {{ background: {c['error']}; color: {c['bg']}; }}"
            f"QLabel#hoverLabel {{ font-size: {self.point_size}pt; }}"
            # a tick box as large as the text beside it: the style's 13 px box is a speck at 1.5×
            f"QCheckBox::indicator, QRadioButton::indicator {{ width: {tick}px; height: {tick}px; }}"
            f"QLabel#banner {{ color: {c['accent']}; font-weight: bold; }}"
            f"QLabel#caption {{ font-size: {self.point_size + 8}pt; font-weight: bold; padding: 8px;"
            f" background: {c['panel']}; color: {c['fg']}; }}"
            f"QLabel#banner[error=\"true\"] {{ color: {c['error']}; }}"
        )
