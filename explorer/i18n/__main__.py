"""Regenerate the translations: ``python -m explorer.i18n update | release | check``.

``update`` runs pyside6-lupdate over every Python file in explorer/ (new strings appear in the
``.ts`` as unfinished, vanished ones are marked obsolete) and then ``release``;
``release`` compiles the ``.ts`` to the ``.qm`` the app loads; ``check`` exits 1 when an
entry is unfinished or the committed ``.qm`` differs from a fresh compile.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from explorer.i18n import DEFAULT, HERE, LANGUAGES, qm_path, ts_path

EXPLORER = HERE.parent


def tool(name: str) -> str:
    """pyside6-lupdate / pyside6-lrelease: beside this interpreter first (a venv's bin/), then PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: it ships with PySide6 (pip install PySide6)")
    return found


def sources() -> list[str]:
    return sorted(str(p.relative_to(EXPLORER.parent)) for p in EXPLORER.rglob("*.py"))


def update(language: str) -> None:
    subprocess.run([tool("pyside6-lupdate"), *sources(), "-no-obsolete", "-locations", "none", "-target-language", language,
                    "-ts", str(ts_path(language))], check=True, cwd=EXPLORER.parent)


def release(language: str, out: Path | None = None) -> Path:
    out = out or qm_path(language)
    subprocess.run([tool("pyside6-lrelease"), "-silent", str(ts_path(language)), "-qm", str(out)], check=True)
    return out


def unfinished(language: str) -> list[str]:
    """Source strings of the ``.ts`` that have no finished translation."""
    missing = []
    for message in ET.parse(ts_path(language)).getroot().iter("message"):
        translation = message.find("translation")
        kind = translation.get("type") if translation is not None else "unfinished"
        if kind in ("obsolete", "vanished"):
            continue
        forms = [translation.text or ""] + [f.text or "" for f in translation.iter("numerusform")]
        if kind == "unfinished" or not any(f.strip() for f in forms):
            missing.append(message.findtext("source") or "")
    return missing


def stale(language: str) -> bool:
    """True when the committed ``.qm`` is not what the ``.ts`` compiles to."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = release(language, Path(tmp) / "fresh.qm")
        return not qm_path(language).exists() or fresh.read_bytes() != qm_path(language).read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.i18n", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("update", "release", "check"))
    args = parser.parse_args(argv)
    status = 0
    for language in LANGUAGES:
        if language == DEFAULT or (args.command != "update" and not ts_path(language).exists()):
            continue
        if args.command == "update":
            update(language)
        if args.command in ("update", "release"):
            release(language)
        missing = unfinished(language)
        if missing:
            print(f"{ts_path(language).name}: {len(missing)} unfinished:", *missing[:20], sep="\n  ")
            status = 1 if args.command == "check" else status
        if args.command == "check" and stale(language):
            print(f"{qm_path(language).name} is out of date: run python -m explorer.i18n release")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
