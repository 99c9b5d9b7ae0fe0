from __future__ import annotations

import numpy as np
import pytest

from model.analysis.geometry import analogy_plane, find_word, fit_pca, pairwise_cosines, trajectory


def test_pca_axes_do_not_move_when_other_points_are_projected():
    rng = np.random.default_rng(0)
    words = rng.normal(size=(10, 6))
    pca = fit_pca(words)
    before = pca(words)
    pca(rng.normal(size=(5, 6)))  # projecting a sentence's tokens changes nothing
    np.testing.assert_array_equal(pca(words), before)
    np.testing.assert_allclose(pca.axes @ pca.axes.T, np.eye(2), atol=1e-10)
    assert np.var(before[:, 0]) >= np.var(before[:, 1])


def test_pca_sign_is_deterministic():
    rng = np.random.default_rng(1)
    words = rng.normal(size=(8, 4))
    np.testing.assert_allclose(fit_pca(words).axes, fit_pca(words[::-1].copy()).axes, atol=1e-10)


def test_analogy_plane_shows_the_parallelogram_undistorted():
    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(3, 16))
    d = b - a + c
    plane = analogy_plane(a, b, c)
    pa, pb, pc, pd = plane(np.stack([a, b, c, d]))
    np.testing.assert_allclose(pa, [0, 0], atol=1e-12)
    np.testing.assert_allclose(pb - pa, pd - pc, atol=1e-10)  # b − a ∥ d − c, same length
    assert np.linalg.norm(pb - pa) == pytest.approx(np.linalg.norm(b - a))
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
    np.testing.assert_array_equal(starts[0], starts[1])
    np.testing.assert_array_equal(starts[0], starts[2])
    np.testing.assert_allclose(pairwise_cosines(starts), 1.0, atol=1e-6)
    after_first = np.stack([p[1] for p in paths])
    assert pairwise_cosines(after_first)[0, 1] < 0.9999
    assert paths[0].shape == (1 + tracing_model.cfg.n_layers, tracing_model.cfg.d_model)


def test_find_word_matches_whole_words_only(tracing_model):
    trace = tracing_model.trace("the moles and the mole")
    position, _ = find_word(trace, "Mole")
    assert trace.offsets[position][0] == len("the moles and the ")
    with pytest.raises(ValueError, match="does not occur"):
        find_word(trace, "tower")
