"""Files the app writes are written atomically: to a temporary file in the same folder, then
renamed over the target, so a crash or a full disk never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_file(path: Path, write: Callable[[Path], None], suffix: str = ".part") -> None:
    """Call ``write(temp_path)``, then rename the result to ``path``. On any failure the
    temporary file is removed and the exception propagates; ``path`` is untouched."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        # mkstemp makes the file 0600; what the app writes is an ordinary file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, flushed to disk before the rename."""
    def write(temp: Path) -> None:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    replace_file(path, write)
