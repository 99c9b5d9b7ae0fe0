"""A short seeded soak of the real window: hostile text and random UI actions."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from explorer.soak import random_edit, soak


def test_random_edits_and_actions_raise_nothing_and_the_screen_always_catches_up(make_window):
    window = make_window(text="the king and the queen")
    window.resize(1280, 720)
    report = soak(window, QApplication.instance(), edits=400, seed=7, deadline_s=45, action_rate=0.5)
    assert report.edits >= 100 and report.actions > 0 and report.updates > 0
    assert len(report.by_action) >= 15, report.by_action  # every panel, tool and setting gets its turn
    assert report.exceptions == []
    assert report.not_converged == []


def test_the_edit_generator_produces_what_broke_things_before():
    import random

    rng = random.Random(0)
    texts, text = [], ""
    for _ in range(3000):
        text = random_edit(rng, text)
        texts.append(text)
    assert any(len(t) >= 10_000 for t in texts)  # long pastes
    assert any("\ud800" in t for t in texts) and any("\x00" in t for t in texts)
    assert "" in texts
