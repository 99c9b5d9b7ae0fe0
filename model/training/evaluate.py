"""Evaluate the bundled model and write its model card: ``python -m model.training.evaluate``.

Every number in ``assets/MODEL_CARD.md`` comes from this script run on the shipped
weights (``assets/teaching-model``), on the held-out test split built by
``python -m model.training.data``:

- perplexity of the model, a unigram model and an interpolated Kneser-Ney trigram model,
  all on the same test tokens and the same output vocabulary;
- word-analogy accuracy of the model's own (frozen MiniLM) embedding table on the Google
  analogy set, by 3CosAdd and 3CosMul, using the solver the app uses;
- previous-token, first-token and induction scores of every head;
- samples at T = 0, 0.7 and 1.2;
- perplexity per source, and on the sources of the previous corpus (its test split is
  this one without the State of the Union addresses);
- in-context copying (``model.training.copying``): accuracy on held-out repeated word
  lists and repeated test sentences, the induction heads and what knocking them out costs;
- with ``--baseline FOLDER`` (e.g. the previous shipped weights), the same perplexities and
  copy accuracies for that model on the same tokens, for a before/after table;
- the forward pass at 32 tokens on one thread (median of 50, the app's trace path).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from model.analysis.analogy import EmbeddingIndex
from model.analysis.heads import INDUCTION_THRESHOLD, PREVIOUS_TOKEN_THRESHOLD, measure_head_roles
from model.core.sampling import next_token_distribution
from model.core.tokenizer import append_token
from model.tracer.runner import TracingModel
from model.training.analogy_eval import evaluate_analogies, load_analogy_questions
from model.training.copying import copying_report, what_to_show
from model.training.data import gensim_test_data_file
from model.training.ngram import KneserNeyTrigram, UnigramModel, perplexity
from model.training.tokens import OutputVocabulary, load_split_tokens, read_documents, token_sources
from model.training.train import EOD_ID, ROOT, UNK_ID

PROMPTS = (
    "a fluffy blue creature roamed the verdant",
    "therefore the murderer was",
    "the king said to the queen",
    "one mole of carbon dioxide",
    "the eiffel tower is in",
)
TEMPERATURES = (0.0, 0.7, 1.2)


@torch.no_grad()
def neural_log_probs(model: TracingModel, ids: np.ndarray, targets: np.ndarray, stride: int = 64,
                     batch: int = 32) -> np.ndarray:
    """Natural-log probability of every test target, each scored exactly once.

    Windows of n_ctx tokens (BOS + n_ctx − 1 corpus tokens) start every ``stride`` tokens;
    the first window scores all its targets, every later one only its last ``stride``, so
    each token is predicted with at least n_ctx − stride tokens of context (the standard
    strided evaluation; non-overlapping windows would leave a window's first tokens with
    almost none, unlike the trigram, which always has two).
    """
    module = model.module.eval()
    n_ctx = module.cfg.n_ctx
    bos = module.cfg.bos_token_id
    starts = list(range(0, len(ids) - n_ctx + 1, stride))
    out = np.empty(len(ids), dtype=np.float64)
    filled = np.zeros(len(ids), dtype=bool)
    offsets = np.arange(n_ctx)
    for i in range(0, len(starts), batch):
        s = np.asarray(starts[i : i + batch])
        x = np.empty((len(s), n_ctx), dtype=np.int64)
        x[:, 0] = bos
        x[:, 1:] = ids[s[:, None] + offsets[None, :-1]]
        y = targets[s[:, None] + offsets[None, :]]
        log_probs = torch.log_softmax(module(torch.from_numpy(x)), dim=-1)
        picked = log_probs.gather(-1, torch.from_numpy(y)[..., None])[..., 0].numpy()  # (b, n_ctx)
        for row, start in enumerate(s):
            first = 0 if start == 0 else n_ctx - stride
            out[start + first : start + n_ctx] = picked[row, first:]
            filled[start + first : start + n_ctx] = True
    if not filled.all():
        raise ValueError("strided windows left tokens unscored; trim the test tokens first")
    return out

def generate(model: TracingModel, prompt: str, temperature: float, n_tokens: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    text = prompt
    vocabulary = model.tokenizer.vocabulary(model.cfg.vocab_size)
    for _ in range(n_tokens):
        trace = model.trace(text)
        token = next_token_distribution(trace.logits_at(-1), temperature).sample(rng)
        if token == EOD_ID:
            break
        text = append_token(text, vocabulary[token], model.tokenizer.kind)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "assets" / "teaching-model")
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--tokens", type=Path, default=ROOT / "data" / "tokens")
    p.add_argument("--cache", type=Path, default=ROOT / "data" / "cache")
    p.add_argument("--card", type=Path, default=ROOT / "assets" / "MODEL_CARD.md")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--baseline", type=Path, default=None,
                   help="another model folder to score on the same test tokens (a before/after table)")
    p.add_argument("--skip-analogies", action="store_true", help="reuse the analogy figures in evaluation.json")
    p.add_argument("--reference-json", type=Path, default=None,
                   help="cache of the n-gram and baseline figures (they do not depend on --model)")
    p.add_argument("--reference-only", action="store_true", help="compute --reference-json and stop")
    p.add_argument("--previous-corpus", type=Path, default=None,
                   help="also score the test split of this corpus alone (the previous card's split)")
    p.add_argument("--previous-tokens", type=Path, default=None)
    return p.parse_args(argv)


def previous_split_perplexity(model: TracingModel, args) -> float:
    """Perplexity on the test split of ``--previous-corpus`` scored alone, as its card did."""
    cfg = model.cfg
    vocab = OutputVocabulary.from_token_ids(cfg.output_token_ids, cfg.vocab_size, UNK_ID)
    tokens = args.previous_tokens or args.previous_corpus.parent / (args.previous_corpus.name + "-tokens")
    ids = load_split_tokens(args.previous_corpus, tokens, "test", model.tokenizer, EOD_ID)
    stride = cfg.n_ctx // 2
    ids = ids[: cfg.n_ctx + ((len(ids) - cfg.n_ctx) // stride) * stride]
    return perplexity(neural_log_probs(model, ids, vocab.targets(ids), stride=stride))


def reference_figures(args, vocab, train_targets, test_ids, test_targets, sources, test_docs) -> dict:
    """What does not depend on the evaluated model: the n-gram models' perplexities and,
    with ``--baseline``, the baseline model's perplexities and copy accuracies."""
    V = len(vocab)
    unigram = UnigramModel(V)
    unigram.fit([train_targets])
    trigram = KneserNeyTrigram(V, bos_id=int(vocab.index_of[EOD_ID]))
    trigram.fit([train_targets])
    trigram_log_probs = trigram.log_probs(test_targets)
    out: dict = {
        "test_tokens": int(len(test_targets)),
        "ngram": {
            "unigram": perplexity(unigram.log_probs(test_targets)),
            "kneser_ney_trigram": perplexity(trigram_log_probs),
            "kneser_ney_discounts": [float(d) for d in np.atleast_1d(getattr(trigram, "discounts", []))],
            "kneser_ney_by_source": perplexity_by_source(trigram_log_probs, sources, PREVIOUS_SOURCES),
        },
    }
    print(f"n-gram models: {json.dumps(out['ngram'])}", flush=True)
    if args.baseline is not None:
        base = TracingModel.from_folder(args.baseline)
        if tuple(base.cfg.output_token_ids or ()) != tuple(vocab.token_ids.tolist()):
            raise SystemExit("the baseline predicts another output vocabulary: its perplexity would not compare")
        base_log_probs = neural_log_probs(base, test_ids, test_targets, stride=base.cfg.n_ctx // 2)
        base_copy = copying_report(base.module, base.tokenizer, test_docs)
        out["baseline"] = {
            "model": str(args.baseline),
            "perplexity": perplexity(base_log_probs),
            "by_source": perplexity_by_source(base_log_probs, sources, PREVIOUS_SOURCES),
            "copying": {k: base_copy[k] for k in ("word_lists", "sentences", "induction_heads", "knockouts")},
        }
        if args.previous_corpus is not None:
            out["baseline"]["previous_split"] = previous_split_perplexity(base, args)
        print(f"baseline: perplexity {out['baseline']['perplexity']:.1f}, word lists "
              f"{base_copy['word_lists']['accuracy']:.1%}, sentences {base_copy['sentences']['accuracy']:.1%}", flush=True)
    return out


def perplexity_by_source(log_probs: np.ndarray, sources: np.ndarray, previous_sources: tuple[str, ...]) -> dict:
    """Perplexity per source, on the previous corpus's sources, and overall."""
    out = {str(name): float(np.exp(-log_probs[sources == name].mean())) for name in sorted(set(sources))}
    previous = np.isin(sources, previous_sources)
    out["previous sources"] = float(np.exp(-log_probs[previous].mean()))
    out["all"] = float(np.exp(-log_probs.mean()))
    out["tokens"] = {str(name): int((sources == name).sum()) for name in sorted(set(sources))}
    return out


ARCHAIC_AND_DICTIONARY = ("kjv", "devil", "jargon")


def training_mix(tokenizer, corpus_dir: Path) -> dict:
    """Training tokens per source, and the share of KJV + dictionary text (Devil's
    Dictionary, Jargon File); WordNet's usage examples are reported on their own line."""
    sources = token_sources(tokenizer, corpus_dir, "train")
    names, counts = np.unique(sources, return_counts=True)
    tokens = {str(n): int(c) for n, c in zip(names, counts, strict=False)}
    total = sum(tokens.values())
    return {"tokens": tokens, "total": total,
            "kjv_and_dictionary_share": sum(tokens.get(n, 0) for n in ARCHAIC_AND_DICTIONARY) / total,
            "wordnet_share": tokens.get("wordnet", 0) / total}


PREVIOUS_SOURCES = ("brown", "devil", "jargon", "kjv", "wikipedia", "wordnet")
TIMING_TEXT = ("the cat sat on the mat . the cat sat on the mat . the dog ran to the door and the "
               "children laughed at the small brown dog in the garden")


def forward_milliseconds(model: TracingModel, n_tokens: int = 32, repeats: int = 50) -> dict:
    """Median and p95 of the app's forward pass (``trace``, logits at the last position),
    every one a full pass: tracing the same text again would otherwise reuse every row
    (incremental tracing) and time only the copy-out."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    model.incremental = False
    try:
        ids = model.tokenizer.encode(TIMING_TEXT)
        text = TIMING_TEXT
        while len(model.tokenizer.encode(text)) > n_tokens:
            text = text.rsplit(" ", 1)[0]
        for _ in range(5):
            model.trace(text)
        times = [model.trace(text).forward_ms for _ in range(repeats)]
        return {"tokens": len(model.tokenizer.encode(text)), "median_ms": float(np.median(times)),
                "min_ms": float(np.min(times)), "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
                "p95_ms": float(np.percentile(times, 95)), "threads": 1, "full_text_tokens": len(ids)}
    finally:
        torch.set_num_threads(previous)
        del model.incremental  # back to the class default


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = TracingModel.from_folder(args.model)
    cfg = model.cfg
    vocab = OutputVocabulary.from_token_ids(cfg.output_token_ids, cfg.vocab_size, UNK_ID)
    results: dict = {"model": str(args.model.relative_to(ROOT)) if args.model.is_relative_to(ROOT) else str(args.model)}

    # ---- perplexity: the same test tokens, the same output vocabulary, three models
    train_ids = load_split_tokens(args.corpus, args.tokens, "train", model.tokenizer, EOD_ID)
    test_ids = load_split_tokens(args.corpus, args.tokens, "test", model.tokenizer, EOD_ID)
    stride = cfg.n_ctx // 2
    test_ids = test_ids[: cfg.n_ctx + ((len(test_ids) - cfg.n_ctx) // stride) * stride]
    train_targets, test_targets = vocab.targets(train_ids), vocab.targets(test_ids)
    V = len(vocab)
    sources = token_sources(model.tokenizer, args.corpus, "test")[: len(test_ids)]
    test_docs = read_documents(args.corpus, "test")
    reference = None
    if args.reference_json is not None and args.reference_json.is_file():
        reference = json.loads(args.reference_json.read_text())
        if reference.get("test_tokens") != int(len(test_targets)):
            raise SystemExit(f"{args.reference_json} was measured on another test split; remove it")
    if reference is None:
        reference = reference_figures(args, vocab, train_targets, test_ids, test_targets, sources, test_docs)
        if args.reference_json is not None:
            args.reference_json.write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
    if args.reference_only:
        print(f"wrote {args.reference_json}", flush=True)
        return
    neural = neural_log_probs(model, test_ids, test_targets, stride=stride)  # the stride the split was trimmed to
    results["perplexity"] = {
        "test_tokens": int(len(test_targets)),
        "output_vocabulary": V,
        "unk_rate": float(np.mean(test_targets == vocab.index_of[UNK_ID])),
        "neural": perplexity(neural),
        **reference["ngram"],
    }
    results["perplexity"]["by_source"] = perplexity_by_source(neural, sources, PREVIOUS_SOURCES)
    if args.previous_corpus is not None:
        results["perplexity"]["previous_split"] = previous_split_perplexity(model, args)
    print(json.dumps(results["perplexity"], indent=2), flush=True)

    # ---- analogies on the model's own embedding table
    previous_results = args.model / "evaluation.json"
    if args.skip_analogies and previous_results.is_file():
        results["analogies"] = json.loads(previous_results.read_text())["analogies"]
    else:
        vocabulary = model.tokenizer.vocabulary(cfg.vocab_size)
        index = EmbeddingIndex(model.module.tok_embed.weight.detach().float().numpy(), vocabulary)
        questions = load_analogy_questions(gensim_test_data_file("questions-words.txt", args.cache))
        results["analogies"] = {}
        for method in ("add", "mul"):
            report = evaluate_analogies(index, questions, method=method, lowercase=True)
            results["analogies"][method] = report.to_dict()
            print(f"analogies 3Cos{method.title()}: {report.to_dict()['overall']}", flush=True)

    # ---- head roles
    valid_docs = read_documents(args.corpus, "valid")[:200]
    text_ids = []
    for doc in valid_docs:
        enc = model.tokenizer.encode(doc)
        if len(enc) >= 16:
            text_ids.append(np.asarray(enc.tail(cfg.n_ctx, keep_first=True).ids))
    common = vocab.token_ids[100:3000]  # frequent whole tokens, no punctuation-heavy head
    roles = measure_head_roles(model.module, text_ids[:100], common, repeat_length=25, n_random=32)
    results["heads"] = {
        "previous_token": np.round(roles.previous_token, 3).tolist(),
        "first_token": np.round(roles.first_token, 3).tolist(),
        "induction": np.round(roles.induction, 3).tolist(),
        "previous_token_heads": roles.previous_token_heads,
        "induction_heads": roles.induction_heads,
        "thresholds": {"previous_token": PREVIOUS_TOKEN_THRESHOLD, "induction": INDUCTION_THRESHOLD},
    }
    print(f"previous-token heads {roles.previous_token_heads}, induction heads {roles.induction_heads}", flush=True)

    # ---- in-context copying, and what the induction heads contribute to it
    results["copying"] = copying_report(model.module, model.tokenizer, test_docs,
                                        previous_token_heads=roles.previous_token_heads)
    print(f"copying: word lists {results['copying']['word_lists']['accuracy']:.1%}, sentences "
          f"{results['copying']['sentences']['accuracy']:.1%}; induction heads {results['copying']['induction_heads']}",
          flush=True)
    first = np.asarray(roles.first_token, dtype=float).copy()
    for layer, head in results["copying"]["induction_heads"]:
        first[layer, head] = -1.0  # an induction head also rests on BOS when nothing repeats: show another
    sink = tuple(int(i) for i in np.unravel_index(int(np.argmax(first)), first.shape))
    results["what_to_show"] = what_to_show(model.module, model.tokenizer, results["copying"]["induction_heads"],
                                           roles.previous_token_heads, sink)
    results["training_mix"] = training_mix(model.tokenizer, args.corpus)
    results["forward"] = forward_milliseconds(model)
    results["weights_bytes"] = (args.model / "model.safetensors").stat().st_size
    results["folder_bytes"] = sum(f.stat().st_size for f in args.model.iterdir() if f.is_file())
    print(f"forward at {results['forward']['tokens']} tokens, one thread: {results['forward']['median_ms']:.1f} ms", flush=True)

    if reference.get("baseline"):
        results["baseline"] = reference["baseline"]

    # ---- samples
    results["samples"] = [
        {"prompt": p, "temperature": t, "text": generate(model, p, t, 20, seed=0)}
        for p in PROMPTS for t in TEMPERATURES
    ]
    results["seconds"] = round(time.perf_counter() - started, 1)
    training = json.loads((args.model / "training.json").read_text()) if (args.model / "training.json").is_file() else {}
    manifest_path = args.corpus / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    (args.model / "evaluation.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    from model.training.model_card import render_model_card

    args.card.write_text(render_model_card(cfg, results, training, manifest), encoding="utf-8")
    print(f"wrote {args.card} and {args.model / 'evaluation.json'} in {results['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
