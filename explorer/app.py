"""Application entry point (minimal for now; the full window lands with the app issue)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    window = QMainWindow()
    window.setWindowTitle("Attention Explorer")
    window.setCentralWidget(QLabel("Attention Explorer"))
    window.resize(1200, 800)
    window.show()
    return app.exec()
