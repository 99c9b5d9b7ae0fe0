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
    """The stages the step-through view walks: one head's computation, in order, then the rest
    of its block for the same token (:mod:`model.analysis.block_steps`). Which block stages a
    model has, and in which order, is ``BlockSteps.stages`` (a post-norm model normalises after
    each residual add; a pre-norm one before the MLP; only the last block ends in the
    unembedding): the list below only names them."""

    INPUT = "input"
    QK = "qk"
    DOT = "dot"
    SCALE = "scale"
    MASK = "mask"
    SOFTMAX = "softmax"
    VALUES = "values"
    OUTPUT = "output"
    ATTN_ADD = "attn_add"  # x + Σ_h ΔE_h + b_O
    ATTN_NORM = "attn_norm"  # post-norm: Add & Norm after attention
    MLP_NORM = "mlp_norm"  # pre-norm: the MLP's input norm; post-norm: Add & Norm after the MLP
    MLP_UP = "mlp_up"
    MLP_ACTIVATION = "mlp_activation"
    MLP_NEURONS = "mlp_neurons"
    MLP_DOWN = "mlp_down"
    MLP_ADD = "mlp_add"
    NEXT_BLOCK = "next_block"
    FINAL_NORM = "final_norm"
    UNEMBED = "unembed"


#: :class:`Stage` in order: ``Selection.stage`` and a lesson's numeric ``stage`` index it.
STAGES: tuple[Stage, ...] = tuple(Stage)
#: one head's stages (input … ΔE), then the block's, as :data:`STAGES` orders them
HEAD_STAGES: tuple[Stage, ...] = STAGES[: STAGES.index(Stage.OUTPUT) + 1]
BLOCK_STAGES: tuple[Stage, ...] = STAGES[len(HEAD_STAGES):]


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
