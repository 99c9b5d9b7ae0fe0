"""In-context copying: does the model use its induction heads to predict?

``python -m model.training.copying [--model FOLDER]`` prints the figures the model card
reports; ``model.training.evaluate`` calls :func:`copying_report` for the card.

Two held-out tests, neither drawn by the training generator (which tiles uniform draws
from the 8000 most frequent output tokens, or repeats spans of training text):

- **word lists**: 10–20 distinct everyday words from :data:`EVERYDAY_WORDS` (a fixed,
  hand-written list of whole-word nouns, verbs and adjectives), said twice, separated by
  spaces. Scored: every token of the second telling after its first, predicted from what
  came before (the first token of the second telling is not determined by the text).
- **sentences**: sentences of 8–40 tokens from the *test* split, each written twice.
  Scored the same way.

Top-1 accuracy counts the model's most likely next token. A head is knocked out by zeroing
its output (its slice of the attention output before ``W_O``) with a forward pre-hook on
the block's output projection: the model's own code is not changed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.core.transformer import Transformer

# Everyday words, written by hand for this test (not sampled from the corpus); the ones the
# tokenizer splits into pieces or the model cannot output are dropped at run time.
EVERYDAY_WORDS = tuple(
    """
    apple table chair door window house garden river mountain tree flower dog cat horse bird
    fish cow sheep pig mouse car bus train boat plane road street bridge city village school
    teacher student book pen paper letter phone computer camera clock watch lamp bed kitchen
    bottle cup glass plate spoon knife fork bread butter cheese milk coffee tea sugar salt egg
    rice soup cake orange lemon banana potato tomato onion carrot shirt shoe hat coat dress
    bag box key ring money bank shop market doctor nurse hospital church office factory farm
    field forest beach island ocean lake sky sun moon star cloud rain snow wind fire stone
    sand wood iron gold silver paint picture music song game ball team king queen prince
    soldier army police judge lawyer friend mother father sister brother child baby family
    name number minute hour week month year morning evening night summer winter spring
    autumn north south east west red blue green yellow black white brown happy sad quick slow
    big small old young hot cold soft hard run walk jump swim sing dance read write eat drink
    sleep open close buy sell give take
    """.split()
)

SCORED_FROM = 1  # the first token of the second copy is not scored


@dataclass(frozen=True)
class CopyItem:
    """One test row: BOS + first + second copy; ``scored`` are the positions whose next
    token (``targets``, in the full vocabulary) is predicted."""

    ids: np.ndarray
    positions: np.ndarray
    targets: np.ndarray


def usable_words(tokenizer, index_of: np.ndarray, output_ids: np.ndarray, words: Sequence[str] = EVERYDAY_WORDS
                 ) -> list[int]:
    """Token ids of the words that are one word piece the model can output."""
    keep: list[int] = []
    for word in words:
        ids = _ids(tokenizer, word)
        if len(ids) == 1 and output_ids[index_of[ids[0]]] == ids[0] and ids[0] not in keep:
            keep.append(int(ids[0]))
    return keep


def _ids(tokenizer, text: str) -> list[int]:
    """Word-piece ids of ``text`` without special tokens (the app's tokenizer or a raw one)."""
    if hasattr(tokenizer, "_tok"):
        return list(tokenizer._tok.encode(text, add_special_tokens=False).ids)
    return list(tokenizer.encode(text, add_special_tokens=False).ids)


def repeated_item(first: Sequence[int], bos: int) -> CopyItem:
    """BOS + S + S; scored: predicting S[j] for j ≥ 1 in the second copy."""
    s = np.asarray(first, dtype=np.int64)
    n = len(s)
    ids = np.concatenate([[bos], s, s])
    # the token at position 1 + n + j is S[j]; it is predicted at position n + j
    j = np.arange(SCORED_FROM, n)
    return CopyItem(ids, n + j, s[j])


def word_list_items(word_ids: Sequence[int], n_items: int, seed: int, lengths: tuple[int, int] = (10, 20),
                    bos: int = 101) -> list[CopyItem]:
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n_items):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        items.append(repeated_item(rng.choice(np.asarray(word_ids), size=n, replace=False), bos))
    return items


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def sentence_items(tokenizer, documents: Sequence[str], n_items: int, seed: int, min_tokens: int = 8,
                   max_tokens: int = 40, bos: int = 101) -> list[CopyItem]:
    """Sentences of ``min_tokens``–``max_tokens`` word pieces from ``documents`` (the test
    split), a seeded choice, each written twice."""
    sentences = []
    for doc in documents:
        for sentence in split_sentences(doc):
            ids = _ids(tokenizer, sentence)
            if min_tokens <= len(ids) <= max_tokens:
                sentences.append(ids)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(sentences), size=min(n_items, len(sentences)), replace=False)
    return [repeated_item(sentences[i], bos) for i in sorted(chosen)]


@contextlib.contextmanager
def heads_knocked_out(model: Transformer, heads: Sequence[tuple[int, int]]) -> Iterator[None]:
    """Zero the output of each (layer, head) while the context is open."""
    d_head = model.cfg.d_head
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(int(layer), []).append(int(head))
    handles = []
    for layer, hs in by_layer.items():
        def zero(module, args, hs=hs):
            z = args[0].clone()
            for h in hs:
                z[..., h * d_head : (h + 1) * d_head] = 0
            return (z,)

        handles.append(model.blocks[layer].attn.out.register_forward_pre_hook(zero))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def copy_accuracy(model: Transformer, items: Sequence[CopyItem], batch: int = 32) -> float:
    """Top-1 accuracy over every scored position of ``items``."""
    model.eval()
    output_ids = torch.as_tensor(model.cfg.output_token_ids) if model.cfg.output_token_ids else None
    correct = total = 0
    by_length: dict[int, list[CopyItem]] = {}
    for item in items:
        by_length.setdefault(len(item.ids), []).append(item)
    for _length, group in sorted(by_length.items()):
        for i in range(0, len(group), batch):
            rows = group[i : i + batch]
            x = torch.as_tensor(np.stack([r.ids for r in rows]))
            top = model(x).argmax(-1)  # (B, T) rows of the output vocabulary
            if output_ids is not None:
                top = output_ids[top]
            for b, r in enumerate(rows):
                pred = top[b, torch.as_tensor(r.positions)].numpy()
                correct += int((pred == r.targets).sum())
                total += len(r.targets)
    return correct / max(total, 1)


@torch.no_grad()
def copy_induction_scores(model: Transformer, items: Sequence[CopyItem]) -> np.ndarray:
    """Mean attention from each scored query to the token after its first occurrence (the
    key an induction head attends to), over ``items``; → (L, H)."""
    from model.analysis.heads import attention_patterns

    L, H = model.cfg.n_layers, model.cfg.n_heads
    total, count = np.zeros((L, H)), 0
    for item in items:
        patterns = attention_patterns(model, torch.as_tensor(item.ids)[None])[0]  # (L, H, T, T)
        n = (len(item.ids) - 1) // 2
        keys = item.positions - n + 1  # query n+j looks at S[j] in copy one, at position 1+j
        total += patterns[:, :, item.positions, keys].sum(-1)
        count += len(item.positions)
    return total / max(count, 1)


def copying_report(model: Transformer, tokenizer, test_documents: Sequence[str], seed: int = 2026,
                   n_lists: int = 200, n_sentences: int = 300, induction_threshold: float = 0.3,
                   previous_token_heads: Sequence[tuple[int, int]] = (), words: Sequence[str] = EVERYDAY_WORDS,
                   list_lengths: tuple[int, int] = (10, 20), sentence_tokens: tuple[int, int] = (8, 40)) -> dict:
    """Copy accuracies, the induction heads on the word-list test and what knocking them
    out costs (each alone, all together, and the previous-token heads together)."""
    cfg = model.cfg
    output_ids = np.asarray(cfg.output_token_ids if cfg.output_token_ids else np.arange(cfg.vocab_size))
    index_of = np.full(cfg.vocab_size, -1, dtype=np.int64)
    index_of[output_ids] = np.arange(len(output_ids))
    index_of[index_of < 0] = 0
    word_ids = usable_words(tokenizer, index_of, output_ids, words)
    lists = word_list_items(word_ids, n_lists, seed, lengths=list_lengths, bos=cfg.bos_token_id)
    sentences = sentence_items(tokenizer, test_documents, n_sentences, seed, *sentence_tokens, bos=cfg.bos_token_id)
    report: dict = {
        "words": len(word_ids),
        "word_lists": {"items": len(lists), "scored": int(sum(len(i.targets) for i in lists)),
                       "accuracy": copy_accuracy(model, lists)},
        "sentences": {"items": len(sentences), "scored": int(sum(len(i.targets) for i in sentences)),
                      "accuracy": copy_accuracy(model, sentences)},
    }
    scores = copy_induction_scores(model, lists[:64])
    report["induction_scores"] = np.round(scores, 3).tolist()
    order = np.dstack(np.unravel_index(np.argsort(-scores, axis=None), scores.shape))[0]
    heads = [(int(a), int(b)) for a, b in order if scores[a, b] >= induction_threshold] or [tuple(map(int, order[0]))]
    knockouts = []
    for head in heads:
        with heads_knocked_out(model, [head]):
            knockouts.append({"heads": [list(head)], "score": float(scores[head]),
                              "word_lists": copy_accuracy(model, lists), "sentences": copy_accuracy(model, sentences)})
    groups = [("induction heads", heads)]
    if previous_token_heads:
        groups.append(("previous-token heads", [tuple(h) for h in previous_token_heads]))
    for label, group in groups:
        if len(group) > 1 or label != "induction heads":
            with heads_knocked_out(model, group):
                knockouts.append({"heads": [list(h) for h in group], "label": label,
                                  "word_lists": copy_accuracy(model, lists), "sentences": copy_accuracy(model, sentences)})
    # a control: as many heads of the same layers that are not induction heads
    controls = [(a, b) for a, b in order[::-1] if (int(a), int(b)) not in heads and a >= 1][: len(heads)]
    with heads_knocked_out(model, [tuple(map(int, h)) for h in controls]):
        knockouts.append({"heads": [[int(a), int(b)] for a, b in controls], "label": "control (lowest induction scores)",
                          "word_lists": copy_accuracy(model, lists), "sentences": copy_accuracy(model, sentences)})
    report["induction_heads"] = [list(h) for h in heads]
    report["knockouts"] = knockouts
    return report


SHOW_COPY_SENTENCE = "the cat sat on the mat . the cat sat on the mat . the cat sat on the"
SHOW_LIST_SENTENCE = "apple river chair window garden bottle apple river chair window"
SHOW_PLAIN_SENTENCE = "the old man walked slowly to the station and waited for the morning train"


@torch.no_grad()
def what_to_show(model: Transformer, tokenizer, induction_heads: Sequence[Sequence[int]],
                 previous_token_heads: Sequence[Sequence[int]], sink_head: Sequence[int] | None = None) -> list[dict]:
    """Rows for the model card's "What to show" table, every figure measured: the text to
    type, the head to click, the query token, where its attention goes, and the model's
    top next-token guess there."""
    cfg = model.cfg
    output_ids = np.asarray(cfg.output_token_ids if cfg.output_token_ids else np.arange(cfg.vocab_size))
    vocab = tokenizer.vocabulary(cfg.vocab_size)

    def run(text: str):
        ids = [cfg.bos_token_id] + _ids(tokenizer, text)
        x = torch.as_tensor([ids])
        from model.analysis.heads import attention_patterns

        patterns = attention_patterns(model, x)[0]
        model.eval()
        top = output_ids[model(x)[0].argmax(-1).numpy()]
        return np.asarray(ids), patterns, top

    rows = []
    for text in (SHOW_LIST_SENTENCE, SHOW_COPY_SENTENCE):
        ids, patterns, top = run(text)
        q = len(ids) - 1
        # induction keys: tokens that followed an earlier occurrence of the query's token
        keys = [k for k in range(2, q + 1) if ids[k - 1] == ids[q] and k - 1 < q]
        for layer, head in induction_heads:
            weight = float(patterns[layer, head, q, keys].sum())
            best = int(np.argmax(patterns[layer, head, q]))
            rows.append({"head": [int(layer), int(head)], "role": "induction", "text": text, "query": vocab[ids[q]],
                         "query_index": q, "attends_to": vocab[ids[best]], "weight_on_targets": weight,
                         "targets": sorted({vocab[ids[k]] for k in keys}), "top_next": vocab[int(top[q])]})
    ids, patterns, top = run(SHOW_PLAIN_SENTENCE)
    rows_q = np.arange(2, len(ids))
    for layer, head in previous_token_heads:
        weight = float(patterns[layer, head, rows_q, rows_q - 1].mean())
        rows.append({"head": [int(layer), int(head)], "role": "previous token", "text": SHOW_PLAIN_SENTENCE,
                     "query": "any", "attends_to": "the token before", "weight_on_targets": weight, "targets": [],
                     "top_next": vocab[int(top[-1])]})
    if sink_head is not None:
        layer, head = sink_head
        weight = float(patterns[layer, head, 1:, 0].mean())
        rows.append({"head": [int(layer), int(head)], "role": "first token (attention sink)", "text": SHOW_PLAIN_SENTENCE,
                     "query": "any", "attends_to": "[CLS]", "weight_on_targets": weight, "targets": [],
                     "top_next": vocab[int(top[-1])]})
    return rows


def main(argv: list[str] | None = None) -> None:
    from model.core.tokenizer import TextTokenizer
    from model.training.tokens import read_documents
    ROOT = Path(__file__).resolve().parents[2]  # the repository (as model.training.train has it)
    from model.core.paths import BUNDLED_MODEL_DIR, TOKENIZER_FILE
    from model.core.weights import load_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=BUNDLED_MODEL_DIR)
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    tokenizer = TextTokenizer.from_file(args.model / TOKENIZER_FILE)
    report = copying_report(model, tokenizer, read_documents(args.corpus, "test"))
    report.pop("induction_scores")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
