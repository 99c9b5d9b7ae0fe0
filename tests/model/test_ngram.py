"""Count-based baselines: Kneser-Ney checked against a hand computation and a dict-based reference.

All float64 (tests/numerics.py REL64)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from model.training.ngram import KneserNeyTrigram, UnigramModel, estimate_discount, perplexity
from tests.numerics import REL64, assert_close

# Toy vocabulary: 0 is <s> (used only as padding, never inside a sequence), e never occurs.
S, A, B, C, D, E = range(6)
V = 6
TOY_CORPUS = [np.array([A, B, C, A, B]), np.array([A, B, D]), np.array([C, A, B, C])]


@pytest.fixture
def toy() -> KneserNeyTrigram:
    return KneserNeyTrigram(V, bos_id=S).fit(TOY_CORPUS)


def test_kneser_ney_matches_a_hand_computation(toy):
    # Padded:  <s> <s> a b c a b  |  <s> <s> a b d  |  <s> <s> c a b c
    #
    # Trigram counts c(u v w) (12 tokens, 8 distinct trigrams):
    #   <s><s>a 2   <s>ab 2   abc 2   cab 2   bca 1   abd 1   <s><s>c 1   <s>ca 1
    #   n1 = 4, n2 = 4                   → D3 = 4 / (4 + 2·4) = 1/3
    #
    # Bigram continuation counts N1+(• v w) = distinct u before (v, w):
    #   <s>a 1 (<s>)   ab 2 (<s>, c)   bc 1 (a)   ca 2 (b, <s>)   bd 1 (a)   <s>c 1 (<s>)
    #   total 8;  n1 = 4, n2 = 2         → D2 = 4 / (4 + 2·2) = 1/2
    #   per context v: N1+(• v •) and N1+(v •) (distinct w):
    #   a: 2, 1    b: 2, 2    c: 2, 1    <s>: 2, 2
    #
    # Unigram continuation counts N1+(• w) = distinct v before w (6 distinct bigrams):
    #   a 2 (<s>, c)   b 1 (a)   c 2 (b, <s>)   d 1 (b)   <s> 0   e 0
    #   n1 = 2, n2 = 2                   → D1 = 2 / (2 + 2·2) = 1/3
    assert_close(toy.discounts, (1 / 3, 1 / 2, 1 / 3), REL64, what="discounts")
    np.testing.assert_array_equal(toy.unigram_continuation, [0, 2, 1, 2, 1, 0])

    # P1(w) = max(N1+(• w) − 1/3, 0) / 6 + (1/3 · 4 / 6) · 1/6       (4 types seen; γ1/V = 1/27)
    #   a, c: (5/3)/6 + 1/27 = 17/54     b, d: (2/3)/6 + 1/27 = 8/54     <s>, e: 1/27 = 2/54
    p1 = np.array([2, 17, 8, 17, 8, 2]) / 54
    assert_close(toy.unigram_probs, p1, REL64, what="P1")

    # 1) seen trigram: P(c | a b).  c(a b •) = 3 (abc 2, abd 1), N1+(a b •) = 2
    #    P2(c | b) = max(1 − 1/2, 0)/2 + (1/2 · 2/2) · 17/54 = 1/4 + 17/108 = 11/27
    #    P3(c | a b) = (2 − 1/3)/3 + (1/3 · 2/3) · 11/27 = 5/9 + 22/243 = 157/243
    assert_close(toy.next_token_probs([A, B])[C], 157 / 243, REL64, what="P(c | a b)")

    # 2) unseen trigram in a seen context: P(a | a b).  c(a b a) = 0, N1+(• b a) = 0
    #    P2(a | b) = 0 + (1/2 · 2/2) · 17/54 = 17/108
    #    P3(a | a b) = 0 + (1/3 · 2/3) · 17/108 = 17/486
    assert_close(toy.next_token_probs([A, B])[A], 17 / 486, REL64, what="P(a | a b)")

    # 3) unseen context (d a): back off entirely to the bigram level
    #    P2(b | a) = (2 − 1/2)/2 + (1/2 · 1/2) · 8/54 = 3/4 + 1/27 = 85/108
    assert_close(toy.next_token_probs([D, A])[B], 85 / 108, REL64, what="P(b | d a)")

    # 4) context unseen at both levels (e e), and a never-seen token: the unigram level
    assert_close(toy.next_token_probs([E, E])[E], 1 / 27, REL64, what="P(e | e e)")
    assert_close(toy.next_token_probs([C, D]), p1, REL64, what="P(• | c d)")

    # 5) log_probs of "a b a" scores each token from its padded history:
    #    P(a | <s> <s>): c(<s><s>•) = 3, N1+ = 2;  P2(a | <s>) = (1 − 1/2)/2 + (1/2 · 2/2) · 17/54 = 11/27
    #                    → (2 − 1/3)/3 + (2/9) · 11/27 = 157/243
    #    P(b | <s> a):   c(<s>a•) = 2, N1+ = 1;    P2(b | a) = 85/108
    #                    → (2 − 1/3)/2 + (1/3 · 1/2) · 85/108 = 5/6 + 85/648 = 625/648
    #    P(a | a b)      = 17/486 (case 2)
    assert_close(toy.log_probs(np.array([A, B, A])), np.log([157 / 243, 625 / 648, 17 / 486]), REL64, what="a b a")


def test_probabilities_over_the_vocabulary_sum_to_one(toy):
    histories = [[], [A], [S, S], [A, B], [B, C], [D, A], [C, D], [E, E], [A, E], [E, A], [B, D, C, A]]
    for history in histories:
        probs = toy.next_token_probs(history)
        assert probs.shape == (V,)
        assert_close(probs.sum(), 1.0, REL64, what=str(history))
        assert (probs > 0).all(), history


def test_probabilities_sum_to_one_with_a_private_bos_symbol():
    rng = np.random.default_rng(0)
    model = KneserNeyTrigram(8).fit([rng.integers(0, 8, size=n) for n in (1, 2, 5, 30, 40)])
    for history in ([], [3], [1, 2], [7, 7], [0, 5], [4, 4, 4]):
        probs = model.next_token_probs(history)
        assert_close(probs.sum(), 1.0, REL64, what=str(history))
        assert (probs > 0).all(), history


def test_ngrams_do_not_cross_sequence_boundaries():
    halves = (0.5, 0.5, 0.5)
    model = KneserNeyTrigram(5, bos_id=0, discounts=halves).fit([np.array([1, 2]), np.array([3, 4])])
    # (1, 2) ends a sequence and 2 is never followed by anything: both contexts are unseen,
    # so the prediction is the unigram level, not "3 follows 1 2".
    assert_close(model.next_token_probs([1, 2]), model.unigram_probs, REL64, what="P(• | 1 2)")
    assert model.next_token_probs([1, 2])[3] < 0.3
    joined = KneserNeyTrigram(5, bos_id=0, discounts=halves).fit([np.array([1, 2, 3, 4])])
    assert joined.next_token_probs([1, 2])[3] > 0.5  # (1 − 1/2)/1 + ...


def reference_log_probs(corpus, test, vocab_size, bos):
    """Interpolated Kneser-Ney written out with dicts of tuples, straight from the formulas."""
    trigrams = Counter()
    for seq in corpus:
        padded = [bos, bos, *map(int, seq)]
        trigrams.update(zip(padded, padded[1:], padded[2:], strict=False))

    def discount(counts):
        n1 = sum(1 for c in counts if c == 1)
        n2 = sum(1 for c in counts if c == 2)
        return 0.5 if n1 == 0 else n1 / (n1 + 2 * n2)

    bigram_cont = Counter((v, w) for (_, v, w) in trigrams)
    unigram_cont = Counter(w for (_, w) in bigram_cont)
    d3, d2, d1 = discount(trigrams.values()), discount(bigram_cont.values()), discount(unigram_cont.values())
    context3, types3 = defaultdict(int), defaultdict(int)
    for (u, v, _), c in trigrams.items():
        context3[u, v] += c
        types3[u, v] += 1
    context2, types2 = defaultdict(int), defaultdict(int)
    for (v, _), c in bigram_cont.items():
        context2[v] += c
        types2[v] += 1
    n_bigrams = len(bigram_cont)

    def p1(w):
        return max(unigram_cont[w] - d1, 0) / n_bigrams + d1 * len(unigram_cont) / n_bigrams / vocab_size

    def p2(v, w):
        if context2[v] == 0:
            return p1(w)
        return max(bigram_cont[v, w] - d2, 0) / context2[v] + d2 * types2[v] / context2[v] * p1(w)

    def p3(u, v, w):
        if context3[u, v] == 0:
            return p2(v, w)
        return max(trigrams[u, v, w] - d3, 0) / context3[u, v] + d3 * types3[u, v] / context3[u, v] * p2(v, w)

    padded = [bos, bos, *map(int, test)]
    return np.log([p3(u, v, w) for u, v, w in zip(padded, padded[1:], padded[2:], strict=False)]), (d1, d2, d3)


@pytest.mark.parametrize("bos_id", [None, 0])
def test_matches_a_dict_based_reference_on_random_text(bos_id):
    rng = np.random.default_rng(5)
    vocab_size = 12
    weights = rng.dirichlet(np.full(vocab_size, 0.3))  # skewed, so some tokens are rare or unseen
    corpus = [rng.choice(vocab_size, size=int(rng.integers(1, 60)), p=weights) for _ in range(40)]
    test = rng.integers(0, vocab_size, size=300)
    model = KneserNeyTrigram(vocab_size, bos_id=bos_id).fit(corpus)
    expected, discounts = reference_log_probs(corpus, test, vocab_size, vocab_size if bos_id is None else bos_id)
    assert_close(model.discounts, discounts, REL64, what="discounts")
    assert_close(model.log_probs(test), expected, REL64, what="log-probs")


def test_discount_override_and_validation():
    model = KneserNeyTrigram(V, bos_id=S, discounts=(0.9, 0.8, 0.7)).fit(TOY_CORPUS)
    assert model.discounts == (0.9, 0.8, 0.7)
    assert_close(model.next_token_probs([A, B]).sum(), 1.0, REL64, what="sum")
    with pytest.raises(ValueError, match="discounts"):
        KneserNeyTrigram(V, discounts=(0.5, 0.0, 0.5))
    with pytest.raises(ValueError, match="bos_id"):
        KneserNeyTrigram(V, bos_id=V)
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        KneserNeyTrigram(V).fit([np.array([1, 6])])
    with pytest.raises(ValueError, match="1-D"):
        KneserNeyTrigram(V).fit([np.zeros((2, 2), dtype=int)])
    assert_close(estimate_discount(np.array([1, 1, 2, 5])), 2 / 4, REL64, what="n1 / (n1 + 2 n2)")
    assert estimate_discount(np.array([2, 3])) == 0.5  # no singletons: fallback


def test_an_unfitted_model_is_uniform():
    model = KneserNeyTrigram(4).fit([np.array([], dtype=np.int64)])
    assert_close(np.exp(model.log_probs([0, 3, 2])), 0.25, REL64, what="uniform")


def test_unigram_add_k_smoothing():
    model = UnigramModel(V, k=1.0).fit(TOY_CORPUS)
    # counts <s> 0, a 4, b 4, c 3, d 1, e 0 over 12 tokens → (c + 1) / (12 + 6)
    assert_close(model.probabilities(), np.array([1, 5, 5, 4, 2, 1]) / 18, REL64, what="k = 1")
    assert_close(model.probabilities().sum(), 1.0, REL64, what="k = 1, sum")
    half = UnigramModel(V, k=0.5).fit(TOY_CORPUS)
    assert_close(half.probabilities(), (np.array([0, 4, 4, 3, 1, 0]) + 0.5) / 15, REL64, what="k = 1/2")
    assert_close(half.probabilities().sum(), 1.0, REL64, what="k = 1/2, sum")
    assert_close(model.log_probs(np.array([A, E])), np.log([5 / 18, 1 / 18]), REL64, what="log-probs")
    with pytest.raises(ValueError, match="k must be positive"):
        UnigramModel(V, k=0)


def test_perplexity():
    assert_close(perplexity(np.full(10, math.log(1 / 4))), 4.0, REL64, what="uniform over 4")
    assert_close(perplexity(np.log([0.5, 0.125])), 4.0, REL64, what="geometric mean of 1/p")
    with pytest.raises(ValueError):
        perplexity(np.array([]))


def sample_second_order_chain(rng, transition, n_sequences, length):
    vocab_size = transition.shape[0]
    sequences = []
    for _ in range(n_sequences):
        seq = list(rng.integers(0, vocab_size, size=2))
        for _ in range(length - 2):
            seq.append(rng.choice(vocab_size, p=transition[seq[-2], seq[-1]]))
        sequences.append(np.array(seq))
    return sequences


def test_kneser_ney_beats_unigram_on_held_out_text_from_the_same_process():
    rng = np.random.default_rng(1)
    vocab_size = 8
    # a sparse second-order Markov chain: each history allows only 2–3 next tokens
    transition = rng.dirichlet(np.full(vocab_size, 0.1), size=(vocab_size, vocab_size))
    train = sample_second_order_chain(rng, transition, 40, 100)
    held_out = np.concatenate(sample_second_order_chain(rng, transition, 10, 100))
    unigram = UnigramModel(vocab_size).fit(train)
    trigram = KneserNeyTrigram(vocab_size).fit(train)
    unigram_ppl = perplexity(unigram.log_probs(held_out))
    trigram_ppl = perplexity(trigram.log_probs(held_out))
    assert trigram_ppl < 0.6 * unigram_ppl, (trigram_ppl, unigram_ppl)
