"""The lesson "Who wrote the answer?" (issue #26) names the heads the models' own direct logit
attribution finds, not heads typed in by hand: SmolLM2's largest contributors to ' Mary' − ' John'
(and what knocking them out does), and the bundled model's induction head on a repeated list,
which writes most of the copied word. The lesson's scenes play (tests/explorer/test_lessons.py
plays every shipped lesson; tests/explorer/test_lesson_numbers.py checks its captions' numbers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explorer.lesson_file import load_lesson
from model.analysis.ablation import knockout_logits
from model.analysis.dla import attribute, single_token
from model.core.paths import BUNDLED
from model.loading import load_tracing_model
from tests.model.conftest import requires_smollm2

LESSON = Path(__file__).resolve().parents[2] / "assets" / "lessons" / "07-who-wrote-the-answer.toml"


@pytest.fixture(scope="module")
def lesson():
    return load_lesson(LESSON)


def _largest_heads(heads: np.ndarray, n: int) -> list[list[int]]:
    order = np.argsort(-heads.ravel(), kind="stable")[:n]
    return [list(map(int, divmod(int(k), heads.shape[1]))) for k in order]


@requires_smollm2
def test_smollm2s_heads_are_its_largest_contributors_to_mary_minus_john(lesson):
    first, dla, head, knocked = lesson.scenes[:4]
    assert first.get("model") == "smollm2" and dla.get("tab") == "dla" and dla.get("contrast") == " John"
    model = load_tracing_model("smollm2")
    trace = model.trace(first.get("text"))
    mary, john = single_token(model.tokenizer, " Mary"), single_token(model.tokenizer, " John")
    assert int(np.argmax(trace.logits_at(-1))) == mary  # "finishes the story with ' Mary'"
    a = attribute(model.module, trace, -1, mary, john)
    assert [head.get("layer"), head.get("head")] == _largest_heads(a.heads, 1)[0]  # "the largest red cell"
    assert knocked.get("knocked_out") == _largest_heads(a.heads, 3)  # "the three heads that wrote the most"
    # "it looks mostly at the second ' John' … and pushes ' John' down"
    layer, h = head.get("layer"), head.get("head")
    second_john = max(j for j, s in enumerate(trace.token_strings) if s == " John")
    assert int(np.argmax(trace.pattern[layer, h, -1])) == second_john
    assert attribute(model.module, trace, -1, john).heads[layer, h] < 0
    # "keeps less than half of its lead": the knock-out, as the window runs it (zeroed heads)
    before = float(trace.logits_at(-1)[mary] - trace.logits_at(-1)[john])
    after_logits = knockout_logits(model.module, list(trace.token_ids), [tuple(k) for k in knocked.get("knocked_out")], -1)
    after = float(after_logits[mary] - after_logits[john])
    assert 0 < after < before / 2, (before, after)


def test_the_bundled_models_induction_head_copies_the_list(lesson):
    induction, who = lesson.scenes[4:6]
    assert induction.get("model") == "bundled" and induction.get("knocked_out") == [] and who.get("contrast") == ""
    model = load_tracing_model(BUNDLED)
    trace = model.trace(induction.get("text"), logit_positions="all")
    ids, T = list(trace.token_ids), trace.n_tokens
    # induction score: attention from a repeated token to the token after its previous occurrence
    score = np.zeros((trace.n_layers, trace.n_heads))
    for i in range(T):
        earlier = [j for j in range(i - 1) if ids[j] == ids[i]]
        if earlier:
            score += trace.pattern[:, :, i, earlier[-1] + 1]
    layer, head = induction.get("layer"), induction.get("head")
    assert [layer, head] == _largest_heads(score, 1)[0]
    last = trace.token_strings[-1]
    previous = max(j for j in range(T - 1) if trace.token_strings[j] == last)
    # "of the list's words it weighs most the 'black' that followed 'blue' before" ('.' and [CLS] aside)
    words = [j for j in range(T) if trace.token_strings[j] not in (".", "[CLS]")]
    assert max(words, key=lambda j: trace.pattern[layer, head, -1, j]) == previous + 1
    assert trace.token_strings[previous + 1] == "black"
    predicted = int(np.argmax(trace.logits_at(-1)))
    assert model.info().vocabulary[predicted] == "black"
    a = attribute(model.module, trace, -1, predicted)
    layer_, component, head_, _ = a.top(1)[0]
    assert (layer_, component, head_) == (layer, "head", head)  # "the same induction head writes the most"


@requires_smollm2
def test_playing_it_knocks_the_heads_out_and_puts_them_back(qtbot, make_window, lesson):
    window = make_window(source="bundled")
    assert window.start_lesson(LESSON)
    for index, scene in enumerate(lesson.scenes):
        window.player.go(index)
        qtbot.waitUntil(lambda s=scene: window.trace is not None and window.trace.text == s.get("text")
                        and window.model_info is not None, timeout=60000)
        assert window.apply_scene(scene) == []
        expected = {tuple(h) for h in scene.get("knocked_out")}
        assert window.selection.ablated == expected, index
        assert window.current_tab_panel().key == scene.get("tab")
    assert window.selection.ablated == set()  # the last scenes put them back
