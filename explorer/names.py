"""Names the app uses in more than one place, defined once (Qt-free).

* :class:`Stage` / :data:`STAGES` — the step-through's stages, in order (a lesson's ``stage``,
  ``attention-explorer export --stage``, the stage canvas's drawing).
* :class:`HeadMode` / :data:`HEAD_MODES` — what the Head tab can show (its mode box, a lesson's
  ``mode``, ``export --mode``).
* :data:`USER_LESSONS_FOLDER` / :data:`USER_LESSON_FILE` — where Ctrl+S writes scenes (in the
  app's data folder).

Both are string enums: a member *is* its name (``HeadMode.PATTERN == "pattern"``, and it prints
as ``pattern``), so lesson files, settings and command lines hold plain strings.

The tabs (keys, panel classes, scene keys, export views) are :mod:`explorer.views.registry`'s;
the file names of a model folder are :mod:`model.core.paths`'.
"""

from __future__ import annotations

from enum import Enum


class _Name(str, Enum):
    """A string enum that prints as its value (``enum.StrEnum`` from Python 3.11; this app runs on 3.10)."""

    __str__ = str.__str__
    __format__ = str.__format__


class Stage(_Name):
    """The stages of one head's computation the step-through view walks, in order."""

    INPUT = "input"
    QK = "qk"
    DOT = "dot"
    SCALE = "scale"
    MASK = "mask"
    SOFTMAX = "softmax"
    VALUES = "values"
    OUTPUT = "output"


#: :class:`Stage` in order: ``Selection.stage`` and a lesson's numeric ``stage`` index it.
STAGES: tuple[Stage, ...] = tuple(Stage)


class HeadMode(_Name):
    """What the Head tab draws for the selected head."""

    PATTERN = "pattern"  # the attention pattern (after softmax)
    SCORES = "scores"  # raw scores QKᵀ/√dₖ
    MASKED = "masked"  # scores with the causal mask's −∞
    ROLLOUT = "rollout"  # attention rollout through the selected layer (all heads)


HEAD_MODES: tuple[HeadMode, ...] = tuple(HeadMode)
#: the modes whose rows sum to 1 (drawn on a fixed 0..1 colour bar)
PROBABILITY_MODES: frozenset[HeadMode] = frozenset({HeadMode.PATTERN, HeadMode.ROLLOUT})

#: the folder of the person's own lessons, in the app's data folder
USER_LESSONS_FOLDER = "lessons"
#: the lesson Ctrl+S adds scenes to, in :data:`USER_LESSONS_FOLDER`
USER_LESSON_FILE = "my-lesson.toml"

#: the first sentence of a new window
SEED_SENTENCE = "a fluffy blue creature roamed the verdant forest"
#: the Chinese interface's first sentence, for a model that reads Chinese (issue #27)
CHINESE_SEED_SENTENCE = "我今天很高兴，因为天气很好"
