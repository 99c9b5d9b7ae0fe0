from __future__ import annotations

import numpy as np
import pytest

from model.analysis.geometry import analogy_plane, find_word, fit_pca, pairwise_cosines, trajectory
from tests.numerics import REL64, assert_close, scale_of


def test_pca_axes_do_not_move_when_other_points_are_projected():
    rng = np.random.default_rng(0)
    words = rng.normal(size=(10, 6))
    pca = fit_pca(words)
    before = pca(words)
    pca(rng.normal(size=(5, 6)))  # projecting a sentence's tokens changes nothing
    np.testing.assert_array_equal(pca(words), before)  # the same projection of the same array
    assert_close(pca.axes @ pca.axes.T, np.eye(2), REL64, what="orthonormal axes")  # float64 throughout
    assert np.var(before[:, 0]) >= np.var(before[:, 1])


def test_pca_sign_is_deterministic():
    rng = np.random.default_rng(1)
    words = rng.normal(size=(8, 4))
    assert_close(fit_pca(words).axes, fit_pca(words[::-1].copy()).axes, REL64, what="axes")


def test_analogy_plane_shows_the_parallelogram_undistorted():
    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(3, 16))
    d = b - a + c
    plane = analogy_plane(a, b, c)
    pa, pb, pc, pd = plane(np.stack([a, b, c, d]))
    assert_close(pa, [0, 0], REL64, scale=scale_of(a), what="a at the origin")  # 0 as computed from a
    assert_close(pb - pa, pd - pc, REL64, what="b − a vs d − c")  # b − a ∥ d − c, same length
    assert_close(np.linalg.norm(pb - pa), np.linalg.norm(b - a), REL64, what="|b − a|")
    with pytest.raises(ValueError, match="parallel"):
        analogy_plane(a, b, a + 2 * (b - a))


def test_drift_starts_identical_and_diverges_after_the_first_block(tracing_model):
    sentences = ["american shrew mole", "one mole of carbon dioxide", "take a biopsy of the mole"]
    traces = [tracing_model.trace(s) for s in sentences]
    paths = []
    for trace in traces:
        position, split = find_word(trace, "mole")
        assert trace.token_strings[position] == "mole" and not split
        paths.append(trajectory(trace, position))
    starts = np.stack([p[0] for p in paths])
    np.testing.assert_array_equal(starts[0], starts[1])  # the same row of the embedding table
    np.testing.assert_array_equal(starts[0], starts[2])
    assert_close(pairwise_cosines(starts), 1.0, what="cosines")
    after_first = np.stack([p[1] for p in paths])
    assert pairwise_cosines(after_first)[0, 1] < 0.9999
    assert paths[0].shape == (1 + tracing_model.cfg.n_layers, tracing_model.cfg.d_model)


def test_find_word_matches_whole_words_only(tracing_model):
    trace = tracing_model.trace("the moles and the mole")
    position, _ = find_word(trace, "Mole")
    assert trace.offsets[position][0] == len("the moles and the ")
    with pytest.raises(ValueError, match="does not occur"):
        find_word(trace, "tower")
