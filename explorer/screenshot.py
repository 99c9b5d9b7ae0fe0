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

from explorer.names import STAGES, HeadMode, Stage
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
    parser.add_argument("--head", default="1.2", help="the enlarged head of the first shots, as layer.head")
    parser.add_argument("--tools", action="store_true",
                        help="the mechanism-tool shots instead (induction on repeated text, logit lens, knock-out, "
                             "sweep and head roles, rollout, A/B prompts), each with its own text")
    parser.add_argument("--language", default="en", choices=("en", "zh_CN"),
                        help="the interface language (zh_CN needs a CJK font, e.g. fonts-wqy-microhei)")
    parser.add_argument("--contact", type=Path, default=None, metavar="PNG",
                        help="one contact sheet of every tab (the window at --size, half size, three to a row) "
                             "instead of the shots")
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
    if args.contact is not None:
        contact_sheet(app, window, args.contact)
        window.close()
        print(args.contact)
        return 0
    if args.tools:
        tool_shots(app, window, shot)
        window.close()
        print("\n".join(str(p) for p in shots))
        return 0
    layer, head = (int(v) for v in args.head.split("."))
    window.select_head(layer, head)
    window.show_tab(window.head_detail)
    window.select_position(args.query)
    shot("attention")
    window.head_detail.set_mode(HeadMode.MASKED)
    shot("masked-scores")
    window.head_detail.set_mode(HeadMode.PATTERN)
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
                window.set_selection(window.selection.with_(stage=STAGES.index(Stage.MASK)))  # −∞ on the book's terms
            if panel.key == "drift":
                window.drift.run()
                wait_until(app, lambda: len(window.drift.paths) > 0)
            shot(name)
    window.close()
    print("\n".join(str(p) for p in shots))
    return 0


def contact_sheet(app: QApplication, window, path: Path, columns: int = 3, scale: float = 0.5) -> None:
    """Every tab of the window as it is now (size, theme, language), each at ``scale``, named
    under it, ``columns`` to a row: for reviewing the layout of all tabs at a glance (issue #32)."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    window.finish_building()
    window.select_position(4)
    images = []
    for panel in window.tab_panels.values():
        window.show_tab(panel)
        if panel.key == "drift" and not panel.paths:
            panel.run()
            wait_until(app, lambda p=panel: bool(p.paths), 60)
        if panel.key == "ab" and panel.trace_b is None:
            panel.text_b.setText(window.trace.text.replace("blue", "red", 1))
            panel.compare()
            wait_until(app, lambda p=panel: p.trace_b is not None, 60)
        if panel.key == "roles":
            wait_until(app, lambda p=panel: p.badges is not None, 120)
        window.worker.wait_until_idle(60)
        settle(app)
        images.append((panel.tab_title(), window.grab().toImage()))
    w = round(images[0][1].width() * scale)
    h = round(images[0][1].height() * scale)
    caption = 34
    rows = -(-len(images) // columns)
    sheet = QImage(columns * (w + 12) + 12, rows * (h + caption + 12) + 12, QImage.Format_RGB32)
    sheet.fill(QColor(window.colours["panel"]))
    painter = QPainter(sheet)
    painter.setRenderHint(QPainter.SmoothPixmapTransform)
    font = QFont()
    font.setPixelSize(20)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor(window.colours["fg"]))
    for n, (title, image) in enumerate(images):
        x, y = 12 + (n % columns) * (w + 12), 12 + (n // columns) * (h + caption + 12)
        painter.drawImage(QRect(x, y, w, h), image)
        painter.drawText(QRect(x, y + h, w, caption), int(Qt.AlignCenter), f"{n + 1}. {title}")
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(str(path))


REPEATED = "the cat sat on the mat . the cat sat on the mat . the cat sat on the"


def tool_shots(app: QApplication, window, shot) -> None:
    """The README's shots of the mechanism tools, in states set here (not by hand), so they
    can be retaken when the bundled weights change."""
    import numpy as np

    def show_text(text: str) -> None:
        window.text_box.setText(text)
        wait_until(app, lambda: window.trace is not None and window.trace.text == text, 60)

    def tab(key: str):
        panel = next(p for p in window.tab_panels.values() if p.key == key)
        window.show_tab(panel)
        return panel

    grid = window.heads_grid
    wait_until(app, lambda: grid.badges is not None, 120)
    badges = grid.badges
    # the strongest induction head by the badges' own score: the head the card names
    induction = np.asarray(badges.induction) if badges is not None else None
    layer, head = (np.unravel_index(int(np.argmax(induction)), induction.shape) if induction is not None else (2, 2))
    show_text(REPEATED)
    window.select_head(int(layer), int(head))
    window.select_position(-1)
    window.show_tab(window.head_detail)
    shot("induction-head")
    tab("next")
    shot("induction-next-token")
    who = tab("dla")  # who wrote "mat": the induction heads' direct contributions, and the tokens' saliency
    wait_until(app, lambda: who.result is not None and who.result.text == window.trace.text, 60)
    who.shade.setChecked(True)
    wait_until(app, lambda: window.token_strip._scores() is not None, 120)
    shot("who-wrote-it")
    who.shade.setChecked(False)
    # the whole block after ΔE: the last block's ten most active MLP neurons for the last token
    step = window.step_through
    window.set_selection(window.selection.with_(layer=window.model_info.n_layers - 1, head=int(head),
                                                stage=STAGES.index(Stage.MLP_NEURONS)))
    window.show_tab(step)
    wait_until(app, lambda: step.canvas.block is not None and step.canvas.block.is_last, 60)
    shot("block-step-through")
    show_text("the cat sat on the mat because the cat was")
    tab("lens")
    lens = next(p for p in window.tab_panels.values() if p.key == "lens")
    wait_until(app, lambda: lens.result is not None and lens.result.text == window.trace.text, 60)
    shot("logit-lens")
    window.set_selection(window.selection.with_(ablated=frozenset({(int(layer), int(head)), (0, 1)})))
    nxt = tab("next")
    wait_until(app, lambda: nxt.ablation is not None, 60)
    shot("knock-out")
    window.set_selection(window.selection.with_(ablated=frozenset()))
    grid.start_sweep()
    wait_until(app, lambda: grid.sweep is not None and grid.sweep.text == window.trace.text, 120)
    tab("roles")
    shot("sweep-and-head-roles")
    grid.controls.show_sweep.setChecked(False)
    grid.controls.rollout.setChecked(True)
    window.select_head(window.model_info.n_layers - 1, 0)
    window.show_tab(window.head_detail)
    shot("rollout")
    grid.controls.rollout.setChecked(False)
    show_text("the doctor said that she")
    ab = tab("ab")
    ab.text_b.setText("the doctor said that he")
    ab.compare()
    wait_until(app, lambda: ab.trace_b is not None, 60)
    diff = np.abs(window.trace.pattern - ab.trace_b.pattern).mean(axis=(-1, -2))  # what the panel draws
    most = np.unravel_index(int(np.argmax(diff)), diff.shape)
    window.select_head(int(most[0]), int(most[1]))
    ab.patch_selected()
    wait_until(app, lambda: ab.patch is not None, 60)
    shot("ab-prompts")


if __name__ == "__main__":
    raise SystemExit(main())
