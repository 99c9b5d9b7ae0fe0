from __future__ import annotations

import numpy as np

from model.analysis.badges import badge_steps, candidate_ids, probe_ids
from model.analysis.heads import duplicate_token_scores, measure_head_roles
from tests.numerics import REL64, assert_close


def test_duplicate_token_score_of_a_head_that_looks_at_the_first_copy():
    prefix, n = 1, 4
    T = prefix + 2 * n
    pattern = np.zeros((T, T))
    pattern[np.arange(T), 0] = 1
    for i in range(n):
        pattern[prefix + n + i] = 0
        pattern[prefix + n + i, prefix + i] = 1
    assert_close(duplicate_token_scores(pattern[None, None], prefix, n)[0, 0], 1.0, REL64, what="score")


def _run(steps):
    steps = list(steps)
    return [(done, total) for done, total, _ in steps], steps[-1][2]


def test_badges_reproduce_measure_head_roles_for_the_bundled_model():
    from model.loading import BUNDLED, load_tracing_model

    model = load_tracing_model(BUNDLED)
    module = model.module
    texts = probe_ids(lambda t: model.encode(t)[0].ids, model.max_tokens)
    candidates = candidate_ids(module)
    progress, badges = _run(badge_steps(module, texts, candidates, repeat_length=25, n_random=32))
    assert progress[-1][0] == progress[-1][1] and len(progress) > 3
    roles = measure_head_roles(module, texts, candidates, repeat_length=25, n_random=32)
    # the same scores from the same texts, batched differently
    assert_close(badges.previous_token, roles.previous_token, what="previous-token")
    assert_close(badges.first_token, roles.first_token, what="first-token")
    assert_close(badges.induction, roles.induction, what="induction")
    # the heads the card names as previous-token heads (0.1, 0.3, 0.6) earn the badge here too
    for layer, head in [(0, 1), (0, 3), (0, 6)]:
        assert "P" in badges.marks(layer, head)
    assert badges.duplicate_token.shape == (4, 8)


def test_a_large_model_scores_its_heads_in_short_steps():
    """A keystroke waits for the badge step in progress: on a model with large blocks each
    step is one sequence (Gemma 3 270M ran eight a step, up to 11 s beside the window)."""
    from model.analysis import badges as badge_module
    from model.core.transformer import Transformer
    from tests.model.conftest import tiny_config

    module = Transformer(tiny_config(n_layers=2, d_model=64, n_heads=4)).eval()
    candidates = np.arange(10, 150)
    small = list(badge_module.badge_steps(module, [], candidates, repeat_length=5, n_random=8))
    assert small[-1][0] == 1  # eight sequences in one step
    budget = badge_module.STEP_BUDGET
    try:
        badge_module.STEP_BUDGET = 11 * sum(p.numel() for p in module.blocks.parameters())  # one 11-token row
        steps = list(badge_module.badge_steps(module, [], candidates, repeat_length=5, n_random=8))
    finally:
        badge_module.STEP_BUDGET = budget
    assert steps[-1][0] == 8 and steps[-1][2] is not None  # one sequence a step, the same scores at the end
    assert_close(steps[-1][2].induction, small[-1][2].induction, floor=1.0, what="induction scores")
