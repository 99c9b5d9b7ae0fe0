"""model/ is the data layer: importing all of it must not load Qt (napari's rule)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import model


def test_importing_every_model_module_loads_no_qt():
    names = [m.name for m in pkgutil.walk_packages([str(Path(model.__file__).parent)], prefix="model.")
             if not m.name.startswith("model.training.")]  # the pipeline needs the [train] extra
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph'))\n"
        "print(','.join(qt))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(model.__file__).parent.parent)
    assert len(names) >= 40
    assert result.stdout.strip() == ""
