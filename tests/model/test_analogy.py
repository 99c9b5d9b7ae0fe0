"""The analogy solver: hand-checkable toy spaces, brute-force references, the question file."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.analysis.analogy import EmbeddingIndex, Neighbour, UnknownWordError
from model.training.analogy_eval import AnalogyQuestion, evaluate_analogies, load_analogy_questions
from tests.numerics import REL64, assert_close

# Axes: male, female, royal, fruit. Unit rows: man, woman, apple; king and queen have norm √2.
WORDS = ["man", "woman", "king", "queen", "apple", "zero"]
TABLE = np.array(
    [
        [1, 0, 0, 0],  # man
        [0, 1, 0, 0],  # woman
        [1, 0, 1, 0],  # king
        [0, 1, 1, 0],  # queen
        [0, 0, 0, 1],  # apple
        [0, 0, 0, 0],  # zero row: must not produce NaN
    ],
    dtype=np.float32,
)
R = 1 / math.sqrt(2)


@pytest.fixture
def index() -> EmbeddingIndex:
    return EmbeddingIndex(TABLE, WORDS)


def test_rows_are_normalised_once_and_zero_rows_stay_zero(index):
    assert_close(np.linalg.norm(index.normalised[:5], axis=1), 1.0, what="norms")
    assert not index.normalised[5].any()
    scores = index.cosines_to(np.array([1.0, 0.0, 0.0, 0.0]))
    assert np.isfinite(scores).all()
    assert_close(scores, [1, 0, R, 0, 0, 0], what="cosines")
    assert np.isfinite([n.score for n in index.nearest_to_word("zero", k=5)]).all()


def test_3cosadd_by_hand(index):
    # man : woman :: king : ?   target t = woman − man + king/|king| = (R − 1, 1, R, 0)
    target = index.analogy_vector("man", "woman", "king")
    assert_close(target, [R - 1, 1, R, 0], what="target")
    # |t|² = (1 − R)² + 1 + 1/2 = 3 − √2
    # cos(queen, t) = (R·1 + R·R) / √(3 − √2) = (R + 1/2) / √(3 − √2) ≈ 0.9586
    # cos(apple, t) = cos(zero, t) = 0; man, woman and king are the inputs, excluded
    answers = index.solve("man", "woman", "king", k=3, method="add")
    assert [n.token for n in answers] == ["queen", "apple", "zero"]
    assert answers[0] == Neighbour("queen", 3, answers[0].score)
    assert_close(answers[0].score, (R + 0.5) / math.sqrt(3 - math.sqrt(2)), what="cos(queen, t)")
    assert_close(answers[1].score, 0.0, scale=1.0, what="cos(apple, t)")  # a cosine's scale is 1


def test_3cosmul_by_hand(index):
    # queen: cos with woman R, with king 1/2, with man 0 →
    # ((1 + R)/2) · ((1 + 1/2)/2) / ((1 + 0)/2 + 0.001) ≈ 1.2778
    # apple and zero: cos 0 with all three → (1/2)(1/2)/(1/2 + 0.001)
    answers = index.solve("man", "woman", "king", k=3, method="mul")
    assert answers[0].token == "queen"
    assert_close(answers[0].score, (1 + R) / 2 * 0.75 / 0.501, what="queen")
    assert_close([answers[1].score, answers[2].score], [0.25 / 0.501] * 2, what="apple and zero")


def test_the_solver_excludes_its_inputs_even_when_they_score_highest(index):
    # apple : queen :: king : ?  target = queen_u − apple + king_u = (R, R, 2R, −1), |t| = 2
    # cos with king and queen: (R·R + 2R·R)/2 = 3/4; with man and woman R/2 ≈ 0.354
    unrestricted = index.solve("apple", "queen", "king", k=2, exclude_inputs=False)
    assert {n.token for n in unrestricted} == {"king", "queen"}
    assert_close(unrestricted[0].score, 0.75, what="king or queen")
    answers = index.solve("apple", "queen", "king", k=10)
    assert [n.token for n in answers] == ["man", "woman", "zero"]  # tie broken by id
    assert_close(answers[0].score, R / 2, what="man")
    for method in ("add", "mul"):
        assert {"apple", "queen", "king"}.isdisjoint(n.token for n in index.solve("apple", "queen", "king", method=method))


def test_3cosmul_differs_from_3cosadd_on_a_constructed_case():
    # a, b, c are orthonormal; x1 is very close to b only, x2 moderately close to both b and c.
    #   x1: cos(·, a, b, c) = (0, 0.9, 0)  → add 0.9 − 0 + 0 = 0.9;   mul 0.95 · 0.5 / 0.501 ≈ 0.948
    #   x2: cos(·, a, b, c) = (0, 0.4, 0.4) → add 0.4 − 0 + 0.4 = 0.8; mul 0.7 · 0.7 / 0.501 ≈ 0.978
    # 3CosAdd lets one big similarity win; 3CosMul rewards being close to both b and c.
    words = ["a", "b", "c", "x1", "x2"]
    table = np.array(
        [
            [1, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0.9, 0, math.sqrt(1 - 0.81)],
            [0, 0.4, 0.4, math.sqrt(1 - 0.32)],
        ],
        dtype=np.float32,
    )
    idx = EmbeddingIndex(table, words)
    add = idx.solve("a", "b", "c", k=2, method="add")
    mul = idx.solve("a", "b", "c", k=2, method="mul")
    assert [n.token for n in add] == ["x1", "x2"]
    assert [n.token for n in mul] == ["x2", "x1"]
    # the 3CosAdd score is the cosine with b − a + c, whose length is √3
    assert_close([n.score for n in add], [0.9 / math.sqrt(3), 0.8 / math.sqrt(3)], what="3CosAdd")
    assert_close([n.score for n in mul], [0.49 / 0.501, 0.475 / 0.501], what="3CosMul")


def brute_force_nearest(table: np.ndarray, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[float, int]]:
    norms = np.linalg.norm(table, axis=1)
    cos = [(float(table[i] @ query / (norms[i] * np.linalg.norm(query))), i) for i in range(len(table))]
    ranked = sorted((c for c in cos if c[1] not in exclude), key=lambda c: (-c[0], c[1]))
    return ranked[:k]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12), n_excluded=st.integers(0, 3))
def test_nearest_matches_a_brute_force_reference(seed, k, n_excluded):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(300, 16)).astype(np.float32)
    idx = EmbeddingIndex(table, [f"w{i}" for i in range(300)])
    query = rng.normal(size=16).astype(np.float32)
    exclude = {int(i) for i in rng.choice(300, size=n_excluded, replace=False)}
    got = idx.nearest(query, k=k, exclude=[f"w{i}" for i in exclude])
    ranked = brute_force_nearest(table.astype(np.float64), query.astype(np.float64), k, exclude)
    ids = [n.token_id for n in got]
    assert len(ids) == len(set(ids)) == k and exclude.isdisjoint(ids)
    assert [n.token for n in got] == [f"w{i}" for i in ids]
    # The float32 index may order two cosines within its roundoff either way (about one
    # example in a thousand has such a near-tie): what must hold is that the k chosen are
    # the k best, each cosine (scale 1) the exact one to the default tolerance.
    cos = table.astype(np.float64) @ query / (np.linalg.norm(table.astype(np.float64), axis=1) * np.linalg.norm(query))
    assert_close(cos[ids], [c for c, _ in ranked], scale=1.0, what="the chosen words' cosines")
    assert_close([n.score for n in got], cos[ids], scale=1.0, what="the scores shown")


def test_nearest_handles_k_larger_than_the_table_and_ids_in_exclude(index):
    got = index.nearest(np.ones(4, dtype=np.float32), k=100, exclude=[0, "woman"])
    assert len(got) == 4 and {0, 1}.isdisjoint(n.token_id for n in got)
    assert index.nearest(np.ones(4), k=0) == []


def test_solve_matches_a_brute_force_reference_on_a_random_table():
    rng = np.random.default_rng(3)
    table = rng.normal(size=(200, 8)).astype(np.float64)
    idx = EmbeddingIndex(table, [f"w{i}" for i in range(200)])
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    for _ in range(20):
        a, b, c = (int(i) for i in rng.choice(200, size=3, replace=False))
        cos = unit @ unit[[a, b, c]].T
        add = cos[:, 1] - cos[:, 0] + cos[:, 2]
        mul = (cos[:, 1] + 1) / 2 * (cos[:, 2] + 1) / 2 / ((cos[:, 0] + 1) / 2 + 1e-3)
        for method, scores in (("add", add), ("mul", mul)):
            scores[[a, b, c]] = -np.inf
            got = idx.solve(f"w{a}", f"w{b}", f"w{c}", k=5, method=method)
            assert [n.token_id for n in got] == list(np.argsort(-scores, kind="stable")[:5])


def test_cosine_and_dot_helpers(index):
    assert_close(index.cosine("man", "king"), R, what="cos(man, king)")
    assert_close(index.cosine("king", "queen"), 0.5, what="cos(king, queen)")
    assert index.cosine("man", "zero") == 0
    assert_close(index.dot("king", "queen"), 1.0, what="king · queen")
    assert_close(index.dot("king", "king"), 2.0, what="king · king")


def test_unknown_words_get_a_clear_error(index):
    with pytest.raises(UnknownWordError, match="'dragon' is not a single token in the vocabulary") as caught:
        index.solve("man", "woman", "dragon")
    assert caught.value.word == "dragon"
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    with pytest.raises(KeyError, match="'Man'"):
        index.cosine("Man", "king")  # lookups are exact: no silent lower-casing
    with pytest.raises(ValueError, match="method"):
        index.solve("man", "woman", "king", method="cos")


QUESTION_FILE = """\
: royal
man woman king queen
woman man queen king

man king woman queen
king queen man woman
man woman dragon queen
: fruit
man woman king apple
Man Woman King Queen
"""


def test_question_file_parsing(tmp_path):
    path = tmp_path / "questions-words.txt"
    path.write_text(QUESTION_FILE)
    questions = load_analogy_questions(path)
    assert len(questions) == 7
    assert questions[0] == AnalogyQuestion("royal", "man", "woman", "king", "queen")
    assert questions[-1] == AnalogyQuestion("fruit", "Man", "Woman", "King", "Queen")
    assert [q.category for q in questions] == ["royal"] * 5 + ["fruit"] * 2

    (tmp_path / "bad.txt").write_text(": royal\nman woman king\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected four words"):
        load_analogy_questions(tmp_path / "bad.txt")


def test_per_category_accuracy_on_a_hand_made_file(tmp_path, index):
    # royal: 4 covered (the 'dragon' line is not), all right by the hand computations above
    #        (king : queen :: man : ? → t = (1 − R, R, 0, 0), nearest non-input is woman);
    # fruit: 'man woman king apple' is wrong (queen), the capitalised line is right once lower-cased.
    path = tmp_path / "questions-words.txt"
    path.write_text(QUESTION_FILE)
    questions = load_analogy_questions(path)
    for method in ("add", "mul"):
        report = evaluate_analogies(index, questions, method=method)
        royal, fruit = report.categories["royal"], report.categories["fruit"]
        assert (royal.correct, royal.covered, royal.total) == (4, 4, 5)
        assert (fruit.correct, fruit.covered, fruit.total) == (1, 2, 2)
        assert (report.overall.correct, report.overall.covered, report.overall.total) == (5, 6, 7)
        assert_close(report.overall.accuracy, 5 / 6, REL64, what="accuracy")
        assert report.predictions == ["queen", "king", "queen", "woman", None, "queen", "queen"]
        summary = report.to_dict()
        assert summary["overall"] == {"correct": 5, "covered": 6, "total": 7, "accuracy": round(5 / 6, 4)}
        assert summary["categories"]["royal"]["accuracy"] == 1.0

    exact_case = evaluate_analogies(index, questions, method="add", lowercase=False)
    assert (exact_case.categories["fruit"].correct, exact_case.categories["fruit"].covered) == (0, 1)


def test_batched_evaluation_agrees_with_solve_question_by_question():
    rng = np.random.default_rng(11)
    words = [f"w{i}" for i in range(150)]
    idx = EmbeddingIndex(rng.normal(size=(150, 10)), words)
    questions = []
    for i in range(300):
        a, b, c, d = rng.choice(150, size=4, replace=False)
        questions.append(AnalogyQuestion(f"cat{i % 3}", words[a], words[b], words[c], words[d]))
    for method in ("add", "mul"):
        report = evaluate_analogies(idx, questions, method=method, batch_size=64)
        expected = [idx.solve(q.a, q.b, q.c, k=1, method=method)[0].token for q in questions]
        assert report.predictions == expected
        assert report.overall.correct == sum(p == q.d for p, q in zip(expected, questions, strict=True))


def test_byte_level_words_are_looked_up_as_their_word_start_token():
    table = np.eye(4, dtype=np.float32)
    tokens = ["king", " king", " queen", "  "]
    plain = EmbeddingIndex(table, tokens)
    gpt2 = EmbeddingIndex(table, tokens, prefer_word_start=True)
    assert plain.token_id("king") == 0
    assert gpt2.token_id("king") == 1 and gpt2.token_id("queen") == 2 and "queen" in gpt2
    assert gpt2.token_id(" king") == 1 and " " not in gpt2  # a space token is not a word
