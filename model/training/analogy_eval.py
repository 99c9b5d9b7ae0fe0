"""Word-analogy evaluation of an embedding table on the Google analogy set
(``questions-words.txt``), with the solver the app uses (:class:`model.analysis.analogy.EmbeddingIndex`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.analysis.analogy import EmbeddingIndex, Method, analogy_scores, check_method


@dataclass(frozen=True)
class AnalogyQuestion:
    """One line of an analogy file: ``a : b :: c : d`` in category ``category``."""

    category: str
    a: str
    b: str
    c: str
    d: str

    @property
    def words(self) -> tuple[str, str, str, str]:
        return (self.a, self.b, self.c, self.d)


def load_analogy_questions(path: str | Path) -> list[AnalogyQuestion]:
    """Read a file in the Google analogy format (``questions-words.txt``).

    ``: category`` lines start a category; every other non-blank line is four
    whitespace-separated words ``a b c d`` meaning ``a : b :: c : d``. Lines starting
    with ``#`` are ignored. Case is kept (see ``lowercase`` in :func:`evaluate_analogies`).

    Raises
    ------
    ValueError
        On a question line that does not have exactly four words, or a question before
        any category line.
    """
    path = Path(path)
    questions: list[AnalogyQuestion] = []
    category: str | None = None
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            category = line[1:].strip()
            continue
        words = line.split()
        if len(words) != 4:
            raise ValueError(f"{path}:{line_number}: expected four words 'a b c d', got {line!r}")
        if category is None:
            raise ValueError(f"{path}:{line_number}: question before any ': category' line")
        questions.append(AnalogyQuestion(category, *words))
    return questions


@dataclass(frozen=True)
class CategoryScore:
    """Top-1 results for a group of questions.

    ``total`` questions, of which ``covered`` have all four words as single tokens and
    ``correct`` of those were answered right. ``accuracy`` is over covered questions.
    """

    correct: int
    covered: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.covered if self.covered else float("nan")

    @property
    def coverage(self) -> float:
        return self.covered / self.total if self.total else float("nan")

    def __add__(self, other: CategoryScore) -> CategoryScore:
        return CategoryScore(self.correct + other.correct, self.covered + other.covered, self.total + other.total)

    def to_dict(self) -> dict[str, float | int | None]:
        accuracy = self.accuracy
        return {
            "correct": self.correct,
            "covered": self.covered,
            "total": self.total,
            "accuracy": None if np.isnan(accuracy) else round(accuracy, 4),
        }


@dataclass(frozen=True)
class AnalogyReport:
    """Per-category and overall top-1 accuracy of one method on a question set.

    ``predictions`` holds the top answer for each question (None when not covered), in
    the order of the questions given.
    """

    method: str
    categories: dict[str, CategoryScore]
    predictions: list[str | None] = field(repr=False, default_factory=list)

    @property
    def overall(self) -> CategoryScore:
        return sum(self.categories.values(), CategoryScore(0, 0, 0))

    def _group(self, syntactic: bool) -> CategoryScore:
        return sum(
            (score for name, score in self.categories.items() if name.startswith("gram") == syntactic),
            CategoryScore(0, 0, 0),
        )

    @property
    def semantic(self) -> CategoryScore:
        """Google-set categories not named ``gram*`` (capitals, currency, family, ...)."""
        return self._group(syntactic=False)

    @property
    def syntactic(self) -> CategoryScore:
        """Google-set categories named ``gram*`` (plurals, tenses, comparatives, ...)."""
        return self._group(syntactic=True)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "overall": self.overall.to_dict(),
            "semantic": self.semantic.to_dict(),
            "syntactic": self.syntactic.to_dict(),
            "categories": {name: score.to_dict() for name, score in self.categories.items()},
        }


def evaluate_analogies(
    index: EmbeddingIndex,
    questions: Sequence[AnalogyQuestion],
    method: Method = "add",
    lowercase: bool = True,
    batch_size: int = 256,
) -> AnalogyReport:
    """Top-1 accuracy of ``method`` on ``questions``, per category and overall.

    A question counts as covered when all four of its words are single tokens of the
    index (after lower-casing when ``lowercase``); only covered questions are answered,
    with ``a``, ``b`` and ``c`` excluded from the answers, exactly as
    :meth:`EmbeddingIndex.solve` does.

    Vectorised: per batch, the cosines of the batch's distinct words with the whole
    vocabulary come from one matrix product, and every question's scores are gathered
    from them. Peak memory is at most about ``7 * batch_size * V * 4`` bytes (≈ 220 MB for
    256 questions over 30k tokens; much less when the batch's words repeat, as they do in
    the category-ordered Google file).
    """
    check_method(method)
    word_ids = np.full((len(questions), 4), -1, dtype=np.int64)
    for row, question in enumerate(questions):
        for column, word in enumerate(question.words):
            word_ids[row, column] = index.id_of.get(word.lower() if lowercase else word, -1)
    covered = np.flatnonzero((word_ids >= 0).all(axis=1))
    predicted = np.full(len(questions), -1, dtype=np.int64)

    for start in range(0, covered.size, batch_size):
        rows = covered[start : start + batch_size]
        ids = word_ids[rows]
        distinct, inverse = np.unique(ids[:, :3], return_inverse=True)
        inverse = inverse.reshape(-1, 3)
        cosines = index.normalised[distinct] @ index.normalised.T  # (n_distinct, V)
        scores = analogy_scores(cosines[inverse[:, 0]], cosines[inverse[:, 1]], cosines[inverse[:, 2]], method)
        batch_rows = np.arange(rows.size)
        for column in range(3):
            scores[batch_rows, ids[:, column]] = -np.inf
        predicted[rows] = scores.argmax(axis=1)

    categories: dict[str, CategoryScore] = {}
    is_covered = np.zeros(len(questions), dtype=bool)
    is_covered[covered] = True
    is_correct = is_covered & (predicted == word_ids[:, 3])
    names = [question.category for question in questions]
    for name in dict.fromkeys(names):
        members = np.array([n == name for n in names])
        categories[name] = CategoryScore(
            int(is_correct[members].sum()), int(is_covered[members].sum()), int(members.sum())
        )
    predictions = [index.tokens[i] if i >= 0 else None for i in predicted.tolist()]
    return AnalogyReport(method, categories, predictions)
