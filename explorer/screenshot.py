"""Screenshots of the real window: ``xvfb-run -s '-screen 0 1920x1080x24' python -m explorer.screenshot OUT_DIR``.

Types the seed sentence, waits for the model, and saves ``QWidget.grab()`` PNGs of the
whole window in the states the README shows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from model.loading import BUNDLED


def wait_until(app: QApplication, condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def settle(app: QApplication, seconds: float = 0.5) -> None:
    wait_until(app, lambda: False, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", default=BUNDLED)
    parser.add_argument("--text", default="a fluffy blue creature roamed the verdant forest")
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument("--prefix", default="", help="put this in front of every file name (e.g. 'minilm-')")
    parser.add_argument("--theme", choices=("dark", "light"), default="dark")
    parser.add_argument("--query", type=int, default=4, help="the selected token (negative counts from the end)")
    parser.add_argument("--font-size", type=int, default=None, help="text size in points (default: the app's)")
    parser.add_argument("--lesson", type=Path, default=None,
                        help="play this lesson file and take one shot per scene instead")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME",
                        help="take only these shots (attention, masked-scores, 3b1b-layout, next-token, …)")
    parser.add_argument("--language", default="en", choices=("en", "zh_CN"),
                        help="the interface language (zh_CN needs a CJK font, e.g. fonts-wqy-microhei)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(["attention-explorer"])
    from explorer.window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.IniFormat)
    settings.setValue("language", args.language)
    window = MainWindow(source=args.model, settings=settings, initial_text=args.text)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    if not wait_until(app, lambda: window.trace is not None and window.trace.text == args.text):
        print("no trace arrived:", window.banner.text())
        return 1
    shots = []

    def shot(name: str) -> None:
        if args.only is not None and name not in args.only:
            return
        window.worker.wait_until_idle(60)
        settle(app)
        path = args.out_dir / f"{args.prefix}{name}.png"
        window.grab().save(str(path))
        shots.append(path)

    from explorer import theme

    window.set_theme(theme.make_theme(args.theme, args.font_size or theme.DEFAULT_POINT_SIZE))
    if args.lesson is not None:
        from explorer.lesson_file import load_lesson

        lesson = load_lesson(args.lesson)
        window.start_lesson(args.lesson)
        for index, scene in enumerate(lesson.scenes):
            window.player.go(index)
            wait_until(app, lambda s=scene: window.trace is not None and window.worker.is_idle()
                       and window.trace.text == s.get("text", window.trace.text), 60)
            if scene.get("tab") == "drift":
                wait_until(app, lambda: len(window.drift.paths) > 0)
            shot(f"{args.lesson.stem}-{index + 1:02d}")
        window.close()
        print("\n".join(str(p) for p in shots))
        return 0
    window.select_head(1, 2)
    window.show_tab(window.head_detail)
    window.select_position(args.query)
    shot("attention")
    window.head_detail.set_mode("masked")
    shot("masked-scores")
    window.head_detail.set_mode("pattern")
    window.head_detail.transpose_box.setChecked(True)
    shot("3b1b-layout")
    window.head_detail.transpose_box.setChecked(False)
    names = {"next": "next-token", "drift": "context-drift", "step": "step-through"}
    curated = {"lens", "roles", "ab"}  # their README shots are made with their own states (docs/screenshots)
    for panel in window.tab_panels.values():
        name = names.get(panel.key, panel.key)
        if panel.key != "head" and (args.only is None and panel.key not in curated or name in (args.only or ())):
            window.show_tab(panel)
            if panel.key == "step":
                window.set_selection(window.selection.with_(stage=4))  # the mask stage: −∞ on the book's terms
            if panel.key == "drift":
                window.drift.run()
                wait_until(app, lambda: len(window.drift.paths) > 0)
            shot(name)
    window.close()
    print("\n".join(str(p) for p in shots))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
