"""Lessons: ordered scenes a teacher steps through with a clicker, in a TOML file they can
write by hand.

A lesson file has a ``title`` (and ``title_zh``) and one ``[[scene]]`` table per scene.
A scene says what to show; whatever it leaves out **stays as the previous scene left it**
(so a lesson reads like slides: change the text once, then only the head or the stage)::

    title = "Tokens and embeddings"
    title_zh = "词元与词嵌入"

    [[scene]]
    model = "bundled"
    text = "the king and the queen"
    tab = "embeddings"
    analogy = ["man", "woman", "king"]
    caption = "king − man + woman lands next to queen."
    caption_zh = "国王 − 男人 + 女人 落在 女王 旁边。"

Keys (all optional): see :data:`SCENE_KEYS`. Errors name the file, the scene and its line.
Nothing here imports Qt: the window applies scenes (:mod:`explorer.presenter`).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from explorer.atomic import write_text
from explorer.names import STAGES
from explorer.scene_schema import (  # noqa: F401 (the limits are re-exported)
    MAX_INDEX,
    MAX_POSITION,
    MAX_SEED,
    MAX_TOP_K,
    QT_TRANSLATE_NOOP,
    SceneKey,
    one_of,
)
from explorer.views.registry import TAB_KEYS, panel_scene_keys
from model.core.paths import LESSONS_DIR  # noqa: F401 (the shipped lessons; re-exported)

# A lesson is a short text: a file beyond this, or nested deeper, is not a lesson (a 1,000-deep
# nesting raised RecursionError in the TOML parser; /dev/zero never ended).
MAX_LESSON_BYTES = 1 << 20
MAX_NESTING = 16


# The keys the window applies itself: the model, the text, the tab, the selection, captions.
WINDOW_KEYS: dict[str, SceneKey] = {
    "model": SceneKey((str,), "model source: 'bundled', 'smollm2', 'lesson:seed-003', a folder …"),
    "text": SceneKey((str,), "the text in the box"),
    "tab": SceneKey((str,), "the tab shown", one_of(TAB_KEYS, QT_TRANSLATE_NOOP("LessonFile", "tab must be one of {choices}"))),
    "layer": SceneKey((int,), "selected layer", lambda v: None if 0 <= v <= MAX_INDEX else (
        QT_TRANSLATE_NOOP("LessonFile", "layer must be 0–{max}"), {"max": MAX_INDEX})),
    "head": SceneKey((int,), "selected head", lambda v: None if 0 <= v <= MAX_INDEX else (
        QT_TRANSLATE_NOOP("LessonFile", "head must be 0–{max}"), {"max": MAX_INDEX})),
    "query": SceneKey((int,), "query token position; negative counts from the end", lambda v: None if (
        -MAX_POSITION <= v <= MAX_POSITION) else (QT_TRANSLATE_NOOP("LessonFile", "query must be between −{max} and {max}"),
                                                  {"max": MAX_POSITION})),
    "stage": SceneKey((int, str), "step-through stage", lambda v: None if (
        v in STAGES if isinstance(v, str) else 0 <= v < len(STAGES)) else (
        QT_TRANSLATE_NOOP("LessonFile", "stage must be 0–{last} or one of {choices}"),
        {"last": len(STAGES) - 1, "choices": ", ".join(STAGES)})),
    "knocked_out": SceneKey((list,), "heads knocked out (zeroed), [[layer, head], …]; [] puts them all back",
                            lambda v: None if all(isinstance(h, list) and len(h) == 2 and all(
                                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_INDEX for n in h)
                                for h in v) else (
                                QT_TRANSLATE_NOOP("LessonFile", "knocked_out must be a list of [layer, head] pairs, each 0–{max}"),
                                {"max": MAX_INDEX})),
}
# Keys about the scene itself, written last.
SCENE_ONLY_KEYS: dict[str, SceneKey] = {
    "freeze": SceneKey((bool,), "ignore typing while this scene shows"),
    "caption": SceneKey((str,), "caption in English"),
    "caption_zh": SceneKey((str,), "caption in Chinese"),
}
# Every key a scene may hold, in the order a saved scene lists them: the window's, then each
# tab's own (:mod:`explorer.views.registry`), then the scene's.
SCENE_KEYS: dict[str, SceneKey] = {**WINDOW_KEYS, **panel_scene_keys(), **SCENE_ONLY_KEYS}
if len(SCENE_KEYS) != len(WINDOW_KEYS) + len(panel_scene_keys()) + len(SCENE_ONLY_KEYS):
    raise ValueError("a panel's scene key is also one of the window's")


class LessonError(ValueError):
    """A lesson file that cannot be used; the message names the file (and scene, line).

    ``template`` (English, marked for translation) and ``params`` make the message;
    :meth:`message` gives it in the reader's language."""

    def __init__(self, template: str, **params) -> None:
        self.template, self.params = template, params
        super().__init__(template.format(**params))

    def message(self, translate=None) -> str:
        """The message; ``translate(context, text)`` (``QCoreApplication.translate``) puts the
        template and the scene's place in another language."""
        translate = translate or (lambda _context, text: text)
        params = dict(self.params)
        if isinstance(params.get("where"), _Where):
            params["where"] = params["where"].text(translate)
        if "problem_template" in params:
            params["problem"] = translate(CONTEXT, params["problem_template"]).format(**params["problem_params"])
        return translate(CONTEXT, self.template).format(**params)

CONTEXT = "LessonFile"


@dataclass(frozen=True)
class _Where:
    """A file and a scene in it: 'lesson.toml, scene 3 (line 12)'."""

    path: Path
    scene: int
    line: int

    def text(self, translate=None) -> str:
        template = QT_TRANSLATE_NOOP("LessonFile", "{path}, scene {scene} (line {line})")
        if translate is not None:
            template = translate(CONTEXT, template)
        return template.format(path=self.path, scene=self.scene, line=self.line)

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class Scene:
    """One scene: only the keys the file gave (``values``) and the full state after
    inheriting from earlier scenes (``state``)."""

    index: int
    line: int
    values: dict
    state: dict

    def get(self, key: str, default=None):
        return self.state.get(key, default)

    def caption(self, language: str = "en") -> str:
        if language.startswith("zh"):
            return self.state.get("caption_zh") or self.state.get("caption", "")
        return self.state.get("caption", "")


@dataclass(frozen=True)
class Lesson:
    path: Path
    title: str
    title_zh: str
    scenes: tuple[Scene, ...] = field(default_factory=tuple)

    def display_title(self, language: str = "en") -> str:
        return self.title_zh if language.startswith("zh") and self.title_zh else self.title


def _scene_lines(text: str) -> list[int]:
    return [i + 1 for i, line in enumerate(text.splitlines()) if re.match(r"\s*\[\[\s*scene\s*\]\]", line)]


def parse_lesson(text: str, path: Path) -> Lesson:
    if _nesting(text) > MAX_NESTING:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: nested more than {max} levels deep: not a lesson"),
                          path=path, max=MAX_NESTING)
    try:
        data = tomllib.loads(text)
    except RecursionError as exc:  # dotted keys nested past the parser's recursion limit
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: nested more than {max} levels deep: not a lesson"),
                          path=path, max=MAX_NESTING) from exc
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: not valid TOML: {error}"), path=path, error=exc) from exc
    unknown = sorted(set(data) - {"title", "title_zh", "scene"})
    if unknown:
        raise LessonError(QT_TRANSLATE_NOOP(
            "LessonFile", "{path}: unknown top-level key {key!r} (expected title, title_zh and [[scene]] tables)"),
            path=path, key=unknown[0])
    title = data.get("title", path.stem)
    if not isinstance(title, str) or not isinstance(data.get("title_zh", ""), str):
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: title and title_zh must be text"), path=path)
    raw = data.get("scene", [])
    if not isinstance(raw, list) or not raw:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: no scenes: add at least one [[scene]] table"), path=path)
    lines = _scene_lines(text)
    scenes, state = [], {"model": "bundled"}
    for i, values in enumerate(raw):
        line = lines[i] if i < len(lines) else 0
        where = _Where(path, i + 1, line)
        if not isinstance(values, dict):
            raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{where}: a scene must be a table"), where=where)
        for key, value in values.items():
            if key not in SCENE_KEYS:
                raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{where}: unknown key {key!r} (known: {known})"),
                                  where=where, key=key, known=", ".join(SCENE_KEYS))
            types, check = SCENE_KEYS[key].types, SCENE_KEYS[key].check
            if isinstance(value, bool) and bool not in types or not isinstance(value, types):
                names = " or ".join(t.__name__ for t in types)
                raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{where}: {key} must be {names}, got {value!r}"),
                                  where=where, key=key, names=names, value=value)
            problem = check(value) if check is not None else None
            if problem:
                problem, problem_params = problem if isinstance(problem, tuple) else (problem, {})
                raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{where}: {problem}, got {value!r}"), where=where,
                                  problem=problem.format(**problem_params), value=value, problem_params=problem_params,
                                  problem_template=problem)
        if isinstance(values.get("stage"), str):
            values = {**values, "stage": STAGES.index(values["stage"])}
        # A key that stands for others (a drift preset: its word and sentences) drops what an
        # earlier scene set for them, unless this scene sets them too.
        dropped = {cleared for key in values for cleared in SCENE_KEYS[key].clears if cleared not in values}
        state = {k: v for k, v in {**state, **values}.items() if k not in dropped}
        scenes.append(Scene(i, line, dict(values), dict(state)))
    return Lesson(path, title, data.get("title_zh", ""), tuple(scenes))


def read_lesson_text(path: Path) -> str:
    """The text of the lesson file ``path``: a regular file (a FIFO, a device or a socket is
    refused before it is opened: reading one would block or never end), at most
    :data:`MAX_LESSON_BYTES`, in UTF-8."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: no such lesson file"), path=path) from exc
    except OSError as exc:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: cannot be read ({error})"), path=path,
                          error=exc.strerror or exc) from exc
    if not stat.S_ISREG(info.st_mode):
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: not a lesson file (not a regular file)"), path=path)
    if info.st_size > MAX_LESSON_BYTES:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: too large for a lesson ({size} bytes; at most {max})"),
                          path=path, size=info.st_size, max=MAX_LESSON_BYTES)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_LESSON_BYTES + 1)
    except OSError as exc:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: cannot be read ({error})"), path=path,
                          error=exc.strerror or exc) from exc
    if len(data) > MAX_LESSON_BYTES:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: too large for a lesson ({size} bytes; at most {max})"),
                          path=path, size=len(data), max=MAX_LESSON_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LessonError(QT_TRANSLATE_NOOP("LessonFile", "{path}: not UTF-8 text"), path=path) from exc


def _nesting(text: str) -> int:
    """The deepest nesting of [ ] and { } outside strings and comments (a cheap look before
    the parser, which recurses once per level)."""
    depth = deepest = 0
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def load_lesson(path: str | Path) -> Lesson:
    path = Path(path)
    return parse_lesson(read_lesson_text(path), path)


def shipped_lessons() -> list[Path]:
    return sorted(LESSONS_DIR.glob("*.toml"))


# ---------------------------------------------------------------------------- writing
def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        escaped = "".join(c if c.isprintable() or c in "\\" else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                          else f"\\U{ord(c):08x}" for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} in a lesson")


def scene_to_toml(values: dict) -> str:
    lines = ["[[scene]]"]
    for key in SCENE_KEYS:
        if key in values and values[key] is not None:
            lines.append(f"{key} = {_toml_value(values[key])}")
    return "\n".join(lines) + "\n"


def append_scene(path: str | Path, values: dict, title: str = "My lesson") -> Lesson:
    """Add a scene to the end of ``path`` (created if missing), written atomically: a
    temporary file in the same folder, then renamed over the old one."""
    path = Path(path)
    if os.path.lexists(path):
        # An existing file that is not a lesson (not UTF-8, not TOML, a FIFO) is left untouched:
        # read_lesson_text and parse_lesson below refuse it with a message.
        old = read_lesson_text(path)
    else:
        old = f'title = {_toml_value(title)}\n'
    new = old.rstrip("\n") + "\n\n" + scene_to_toml(values)
    lesson = parse_lesson(new, path)  # never write a file we could not read back
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, new)
    return lesson
