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
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from explorer.atomic import write_text
from explorer.names import SCENE_HEAD_MODES as MODES
from explorer.names import STAGES as STAGE_NAMES
from explorer.names import TAB_KEYS as TABS
from model.core.paths import LESSONS_DIR  # noqa: F401 (the shipped lessons; re-exported)

# Integers reach Qt widgets (spin boxes hold a C int): a lesson's numbers are checked against
# what they can hold before a scene is applied (a seed of 2**31 crashed the app).
MAX_INDEX = 4095  # layer, head
MAX_POSITION = 1_000_000  # query
MAX_TOP_K = 1000  # the Next-token tab's top-k box
MAX_SEED = 2**31 - 1  # the seed box
# A lesson is a short text: a file beyond this, or nested deeper, is not a lesson (a 1,000-deep
# nesting raised RecursionError in the TOML parser; /dev/zero never ended).
MAX_LESSON_BYTES = 1 << 20
MAX_NESTING = 16

#: key -> (accepted Python types, a check that returns an error or None, what it means)
SCENE_KEYS: dict[str, tuple[tuple[type, ...], Any, str]] = {
    "model": ((str,), None, "model source: 'bundled', 'smollm2', 'lesson:seed-003', a folder …"),
    "text": ((str,), None, "the text in the box"),
    "tab": ((str,), lambda v: None if v in TABS else (QT_TRANSLATE_NOOP("LessonFile", "tab must be one of {choices}"),
                                                       {"choices": ", ".join(TABS)}), "the tab shown"),
    "layer": ((int,), lambda v: None if 0 <= v <= MAX_INDEX else (QT_TRANSLATE_NOOP("LessonFile", "layer must be 0–{max}"),
                                                                  {"max": MAX_INDEX}), "selected layer"),
    "head": ((int,), lambda v: None if 0 <= v <= MAX_INDEX else (QT_TRANSLATE_NOOP("LessonFile", "head must be 0–{max}"),
                                                                 {"max": MAX_INDEX}), "selected head"),
    "query": ((int,), lambda v: None if -MAX_POSITION <= v <= MAX_POSITION else (
        QT_TRANSLATE_NOOP("LessonFile", "query must be between −{max} and {max}"), {"max": MAX_POSITION}),
        "query token position; negative counts from the end"),
    "stage": ((int, str), lambda v: None if (v in STAGE_NAMES if isinstance(v, str) else 0 <= v < len(STAGE_NAMES))
              else (QT_TRANSLATE_NOOP("LessonFile", "stage must be 0–{last} or one of {choices}"),
                    {"last": len(STAGE_NAMES) - 1, "choices": ", ".join(STAGE_NAMES)}), "step-through stage"),
    "mode": ((str,), lambda v: None if v in MODES else (QT_TRANSLATE_NOOP("LessonFile", "mode must be one of {choices}"),
                                                         {"choices": ", ".join(MODES)}), "head view mode"),
    "layout_3b1b": ((bool,), None, "keys as rows, one column per query"),
    "hide_first": ((bool,), None, "drop the first token's column and renormalise"),
    "temperature": ((int, float), lambda v: None if 0 <= v <= 2.5 else QT_TRANSLATE_NOOP("LessonFile", "temperature must be in 0–2.5"), "T"),
    "top_k": ((int,), lambda v: None if 0 <= v <= MAX_TOP_K else (QT_TRANSLATE_NOOP("LessonFile", "top_k must be 0–{max} (0 = off)"),
                                                                  {"max": MAX_TOP_K}), "top-k"),
    "top_p": ((int, float), lambda v: None if 0 < v <= 1 else QT_TRANSLATE_NOOP("LessonFile", "top_p must be in (0, 1]"), "top-p"),
    "seed": ((int,), lambda v: None if 0 <= v <= MAX_SEED else (QT_TRANSLATE_NOOP("LessonFile", "seed must be 0–{max}"),
                                                                {"max": MAX_SEED}), "sampling seed"),
    "words": ((str,), None, "embedding word set (a preset's name)"),
    "extra_words": ((str,), None, "words added to the embedding plot"),
    "analogy": ((list,), lambda v: None if len(v) == 3 and all(isinstance(w, str) for w in v)
                else QT_TRANSLATE_NOOP("LessonFile", "analogy must be three words [a, b, c]"), "a : b :: c : ?"),
    "drift": ((str,), None, "context-drift preset's name"),
    "contrast": ((str,), None, "Who wrote it: a second token, to attribute target − it"),
    "freeze": ((bool,), None, "ignore typing while this scene shows"),
    "caption": ((str,), None, "caption in English"),
    "caption_zh": ((str,), None, "caption in Chinese"),
}


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # noqa: N802 (the name pyside6-lupdate looks for)
    """Marks ``text`` for translation (``python -m explorer.i18n update`` collects it) without
    importing Qt here; the window translates it when it shows the message."""
    return text


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
            types, check, _ = SCENE_KEYS[key]
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
            values = {**values, "stage": STAGE_NAMES.index(values["stage"])}
        state = {**state, **values}
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
