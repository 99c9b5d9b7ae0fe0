from __future__ import annotations

import numpy as np
import pytest

from model.analogy import (
    EmbeddingIndex,
    UnknownWordError,
    evaluate_analogies,
    load_analogy_questions,
)

# A toy space where "gender" is axis 0 and "royalty" axis 1, so the answers are known by hand.
WORDS = ["man", "woman", "king", "queen", "prince", "apple", "zero"]
TABLE = np.array(
    [
        [1.0, 0.0, 0.2],  # man
        [-1.0, 0.0, 0.2],  # woman
        [1.0, 1.0, 0.2],  # king
        [-1.0, 1.0, 0.2],  # queen
        [1.0, 0.8, 0.1],  # prince
        [0.0, 0.0, 1.0],  # apple
        [0.0, 0.0, 0.0],  # zero row: must not produce NaN
    ],
    dtype=np.float32,
)


@pytest.fixture
def index() -> EmbeddingIndex:
    return EmbeddingIndex(TABLE, WORDS)


def test_king_minus_man_plus_woman_is_queen(index):
    answers = index.solve("man", "woman", "king", k=3)
    assert answers[0].token == "queen"
    assert {"man", "woman", "king"}.isdisjoint(n.token for n in answers)


def test_3cosadd_target_is_b_minus_a_plus_c_on_unit_vectors(index):
    unit = TABLE[:6] / np.linalg.norm(TABLE[:6], axis=1, keepdims=True)
    expected = unit[1] - unit[0] + unit[2]
    np.testing.assert_allclose(index.analogy_vector("man", "woman", "king"), expected, rtol=1e-6)
    best = index.solve("man", "woman", "king", k=1)[0]
    assert best.score == pytest.approx(float(unit[3] @ expected / np.linalg.norm(expected)), rel=1e-5)


def test_the_solver_excludes_its_inputs_even_when_they_score_highest(index):
    # b − a + c is closest to c itself here; the answer must still not be a, b or c
    answers = index.solve("king", "prince", "man", k=10)
    assert "man" not in [n.token for n in answers] and len(answers) == 4


def test_zero_rows_never_produce_nan(index):
    scores = index.cosines_to(np.array([1.0, 0.0, 0.0]))
    assert np.isfinite(scores).all() and scores[WORDS.index("zero")] == 0


def test_3cosmul_can_differ_from_3cosadd():
    # x1 is very close to b but far from c; x2 is moderately close to both.
    words = ["a", "b", "c", "x1", "x2"]
    table = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-0.3, 1, -0.2], [0, 0.7, 0.7]], dtype=np.float32)
    idx = EmbeddingIndex(table, words)
    add = idx.solve("a", "b", "c", k=1, method="add")[0].token
    mul = idx.solve("a", "b", "c", k=1, method="mul")[0].token
    assert add == "x2"
    # 3CosMul by hand: cos' = (cos + 1) / 2 for each candidate against a, b, c
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    scores = {w: ((unit[i] @ unit[1] + 1) / 2) * ((unit[i] @ unit[2] + 1) / 2) / ((unit[i] @ unit[0] + 1) / 2 + 1e-3)
              for i, w in enumerate(words) if i >= 3}
    assert mul == max(scores, key=scores.get)


def test_nearest_matches_a_brute_force_reference():
    rng = np.random.default_rng(7)
    table = rng.normal(size=(500, 16)).astype(np.float32)
    idx = EmbeddingIndex(table, [f"w{i}" for i in range(500)])
    for _ in range(20):
        query = rng.normal(size=16).astype(np.float32)
        cos = table @ query / (np.linalg.norm(table, axis=1) * np.linalg.norm(query))
        expected = [int(i) for i in np.argsort(-cos)[:10]]
        got = idx.nearest(query, k=10)
        assert [n.token_id for n in got] == expected
        np.testing.assert_allclose([n.score for n in got], cos[expected], rtol=1e-5)
    assert [n.token_id for n in idx.nearest(table[3], k=3, exclude=["w3"])][0] != 3


def test_unknown_words_get_a_clear_message(index):
    with pytest.raises(UnknownWordError, match="'dragon' is not a single token"):
        index.solve("man", "woman", "dragon")
    with pytest.raises(KeyError):
        index.cosine("man", "dragon")
    assert index.cosine("man", "king") == pytest.approx(float(TABLE[0] @ TABLE[2] / np.linalg.norm(TABLE[0]) / np.linalg.norm(TABLE[2])))
    assert index.dot("man", "king") == pytest.approx(1.04)


def test_question_file_parsing_and_per_category_accuracy(tmp_path, index):
    path = tmp_path / "questions.txt"
    path.write_text(
        ": royal\n"
        "man woman king queen\n"
        "woman man queen king\n"
        "man woman prince queen\n"  # answered 'queen' too, so right by luck of the toy space
        "man woman dragon queen\n"  # not covered: 'dragon' is not in the vocabulary
        ": fruit\n"
        "Man Woman Apple Queen\n"  # lower-cased before lookup
    )
    questions = load_analogy_questions(path)
    assert len(questions) == 5 and questions[0].category == "royal" and questions[-1].category == "fruit"
    report = evaluate_analogies(index, questions, method="add")
    royal = report.categories["royal"]
    assert (royal.covered, royal.total) == (3, 4)
    assert royal.correct == sum(
        index.solve(q.a, q.b, q.c, k=1)[0].token == q.d for q in questions[:3]
    )
    assert report.overall.total == 5 and report.overall.covered == 4
    assert report.to_dict()["categories"]["royal"]["covered"] == 3
