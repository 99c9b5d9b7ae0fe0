"""Train the bundled teaching model: ``python -m model.training.train``.

A fixed seed, a fixed number of steps and batches drawn from ``default_rng([seed, step])``
make a run reproducible and resumable: an interrupted run continues from its last
checkpoint (``--run-dir``) and draws the same batches it would have drawn.

The token embedding is all-MiniLM-L6-v2's pretrained word-piece table, frozen; the model
learns a projection from its 384 dimensions into a 256-wide residual stream. The output
vocabulary is every word piece seen at least ``--min-count`` times in training, ordered by
frequency for an adaptive softmax (the full 30k-way softmax would cost most of the time on
two CPU cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from model.analysis.heads import attention_patterns, induction_probe, induction_scores
from model.core.config import ModelConfig
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.core.weights import TOKENIZER_FILE, save_model
from model.formats.minilm import load_word_embeddings, require_minilm_folder
from model.training.tokens import OutputVocabulary, load_split_tokens

PAD_ID, UNK_ID, BOS_ID, EOD_ID = 0, 100, 101, 102  # [PAD] [UNK] [CLS] [SEP] in MiniLM's vocabulary
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "assets" / "teaching-model"
INDUCTION_PROBE_LENGTH = 25


def make_optimizer(model: Transformer, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters: weight decay on matrices, none on biases and norms."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [{"params": [p for p in trainable if p.dim() >= 2], "weight_decay": weight_decay},
         {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95),
    )


def build_config(vocab: OutputVocabulary, args: argparse.Namespace) -> ModelConfig:
    cutoffs = tuple(c for c in (2000, 8000) if c < len(vocab))
    return ModelConfig(
        vocab_size=30522,
        n_ctx=args.context,
        d_model=256,
        n_layers=4,
        n_heads=8,
        d_mlp=1024,
        d_embed=384,
        positional="sinusoidal",
        bos_token_id=BOS_ID,
        output_token_ids=tuple(int(i) for i in vocab.token_ids),
        adaptive_cutoffs=cutoffs or None,
        unembed_bias=True,
        dropout=0.1,
        name="teaching-4x8",
    )


def make_batch(ids: np.ndarray, targets: np.ndarray, rng: np.random.Generator, batch: int, n_ctx: int,
               index_of: np.ndarray | None = None, repeat_fraction: float = 0.0,
               repeat_pool: np.ndarray | None = None):
    """Windows that start with BOS followed by n_ctx − 1 corpus tokens; targets are the
    next n_ctx tokens (so position 0, the BOS, predicts the window's first token).

    With ``repeat_fraction`` > 0, that share of the windows instead holds one random
    sequence of 8–40 tokens, drawn uniformly from ``repeat_pool``, written over and over to
    fill the window: "… A B … A" → "B" everywhere after the first copy, what induction heads
    do. Uniform draws make copying the only way to predict those tokens, and a window full
    of copies makes the signal strong enough that induction heads form within a few dozen
    steps (one copy of unigram-distributed tokens left them unformed after 800 steps).
    ``index_of`` maps token ids to output rows for those windows' targets.
    """
    starts = rng.integers(0, len(ids) - n_ctx, size=batch)
    offsets = np.arange(n_ctx)
    seq = ids[starts[:, None] + offsets[None, :]].copy()  # (batch, n_ctx): the tokens after BOS
    y = targets[starts[:, None] + offsets[None, :]].copy()
    repeated = np.flatnonzero(rng.random(batch) < repeat_fraction)
    if len(repeated) and (index_of is None or repeat_pool is None):
        raise ValueError("repeated windows need index_of and repeat_pool")
    for row in repeated:
        n = int(rng.integers(8, 41))
        segment = rng.choice(repeat_pool, size=n)
        seq[row] = np.tile(segment, -(-n_ctx // n))[:n_ctx]
        y[row] = index_of[seq[row]]
    x = np.empty((batch, n_ctx), dtype=np.int64)
    x[:, 0] = BOS_ID
    x[:, 1:] = seq[:, :-1]
    return torch.from_numpy(x), torch.from_numpy(y)


def make_finetune_batch(ids: np.ndarray, targets: np.ndarray, rng: np.random.Generator, batch: int, n_ctx: int,
                        index_of: np.ndarray, repeat_pool: np.ndarray, tiled_fraction: float = 0.25,
                        span_fraction: float = 0.25):
    """Windows for teaching the model to *use* its induction heads (``--init`` runs).

    Each row is, with probability ``tiled_fraction``, a little plain text (0–32 tokens)
    followed by one random sequence of 4–40 tokens drawn uniformly from ``repeat_pool`` and
    written over and over (only copying predicts it); with probability ``span_fraction``,
    plain text in which a span of 8–64 tokens is written again after a gap of 0–24 tokens
    and the text then goes on (copying natural text, as in "the cat sat on the mat . the
    cat sat on the mat"); otherwise plain text. Targets are the next tokens, as in
    :func:`make_batch`.
    """
    x, y = make_batch(ids, targets, rng, batch, n_ctx)
    x, y = x.numpy(), y.numpy()
    kinds = rng.random(batch)
    for row in range(batch):
        if kinds[row] >= tiled_fraction + span_fraction:
            continue  # plain text, as drawn
        start = int(rng.integers(0, len(ids) - 2 * n_ctx))
        text = ids[start : start + 2 * n_ctx]
        if kinds[row] < tiled_fraction:
            prefix, n = int(rng.integers(0, 33)), int(rng.integers(4, 41))
            segment = rng.choice(repeat_pool, size=n)
            full = np.concatenate([text[:prefix], np.tile(segment, -(-n_ctx // n))])[:n_ctx]
        else:
            span, first, gap = int(rng.integers(8, 65)), int(rng.integers(0, 49)), int(rng.integers(0, 25))
            insert = first + span + gap
            full = np.concatenate([text[:insert], text[first : first + span], text[insert:]])[:n_ctx]
        x[row, 1:] = full[:-1]  # the tokens after BOS
        y[row] = index_of[full]  # each position predicts the next token
    return torch.from_numpy(x), torch.from_numpy(y)


def evaluation_windows(ids: np.ndarray, targets: np.ndarray, n_ctx: int, max_windows: int):
    n = min(max_windows, (len(ids) - 1) // n_ctx)
    starts = np.arange(n) * n_ctx
    offsets = np.arange(n_ctx)
    x = np.empty((n, n_ctx), dtype=np.int64)
    x[:, 0] = BOS_ID
    x[:, 1:] = ids[starts[:, None] + offsets[None, :-1]]
    return torch.from_numpy(x), torch.from_numpy(targets[starts[:, None] + offsets[None, :]])


@torch.no_grad()
def mean_loss(model: Transformer, x: torch.Tensor, y: torch.Tensor, batch: int = 32) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(x), batch):
        loss = model.loss(x[i : i + batch], y[i : i + batch])
        n = y[i : i + batch].numel()
        total, count = total + loss.item() * n, count + n
    model.train()
    return total / max(count, 1)


def learning_rate(step: int, args: argparse.Namespace) -> float:
    if step >= args.steps:  # stage 2: its own linear decay from stage2_lr to a tenth of it
        progress = (step - args.steps) / max(1, args.stage2_steps)
        return args.stage2_lr * (1.0 - 0.9 * min(1.0, progress))
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    p.add_argument("--tokens", type=Path, default=ROOT / "data" / "tokens")
    p.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "teaching")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--steps", type=int, default=3600, help="stage 1: plain text, cosine schedule")
    p.add_argument("--stage2-steps", type=int, default=800,
                   help="stage 2: a share of windows hold a repeated random sequence (induction heads)")
    p.add_argument("--repeat-fraction", type=float, default=0.25,
                   help="stage 2: the share of windows that hold a repeated random sequence")
    p.add_argument("--repeat-pool", type=int, default=8000,
                   help="stage 2: repeated sequences are drawn from this many most frequent output tokens")
    p.add_argument("--stage2-lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    g = p.add_argument_group("continued training (--init): teach a trained model to copy, on the current corpus")
    g.add_argument("--init", type=Path, default=None,
                   help="start from this model folder (e.g. assets/teaching-model), keeping its output vocabulary")
    g.add_argument("--finetune-steps", type=int, default=3000)
    g.add_argument("--finetune-batch", type=int, default=16)
    g.add_argument("--finetune-lr", type=float, default=4e-4,
                   help="peak learning rate after 50 warm-up steps; cosine decay to a tenth of it")
    g.add_argument("--tiled-fraction", type=float, default=0.25,
                   help="share of windows holding a random frequent-token sequence written over and over")
    g.add_argument("--span-fraction", type=float, default=0.25,
                   help="share of windows in which a span of the text is written again")
    g.add_argument("--tied-output", action="store_true",
                   help="replace the init model's adaptive softmax by one scored against the frozen token "
                        "embedding (ModelConfig.adaptive_tied): every token gets a full-width output vector")
    g.add_argument("--head-warmup", type=int, default=0,
                   help="first steps train only the output layer (the rest frozen), after --tied-output")
    g.add_argument("--bf16", action="store_true",
                   help="compute in bfloat16 (torch.autocast; weights and optimizer stay float32): about "
                        "twice the steps per second on CPUs with AMX/AVX-512 BF16")
    g.add_argument("--checkpoint-every", type=int, default=100)
    g.add_argument("--stop-at", type=int, default=None,
                   help="checkpoint and stop at this step without writing --out (to change settings mid-run)")
    g.add_argument("--note", default="", help="a line for training.json and the card (e.g. a change of mix mid-run)")
    g.add_argument("--export-only", action="store_true",
                   help="write the run's last checkpoint to --out without training further")
    return p.parse_args(argv)


def with_tied_output(model: Transformer) -> Transformer:
    """The same model with a :class:`~model.core.transformer.TiedAdaptiveSoftmax` output layer
    (same clusters, freshly initialised projections); every other weight is kept."""
    import dataclasses

    torch.manual_seed(0)
    tied = Transformer(dataclasses.replace(model.cfg, adaptive_tied=True))
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith("unembed.")}
    missing, unexpected = tied.load_state_dict(kept, strict=False)
    if unexpected or any(not k.startswith("unembed.") for k in missing):
        raise RuntimeError(f"cannot convert: missing {missing}, unexpected {unexpected}")
    old = model.unembed
    if isinstance(old, torch.nn.AdaptiveLogSoftmaxWithLoss):
        # Start each cluster's projection where the old output vectors were, as nearly as the
        # embedding rows allow: the least-squares P with E_c P ≈ W_c (W_c: the old (V_c, d) map; P is (d_embed, d)).
        new, table = tied.unembed, tied.output_table().double()
        n = old.shortlist_size
        with torch.no_grad():
            targets = [old.head.weight[:n].double()]
            targets += [(t[1].weight @ t[0].weight).double() for t in old.tail]  # (V_c, k)(k, d)
            for c, target in enumerate(targets):
                lo, hi = new.bounds[c], new.bounds[c + 1]
                new.proj[c].weight.copy_(torch.linalg.lstsq(table[lo:hi], target).solution.float())
            new.cluster.weight.copy_(old.head.weight[n:])
            if old.head.bias is not None:
                new.cluster.bias.copy_(old.head.bias[n:])
                if new.bias is not None:
                    new.bias.zero_()
                    new.bias[:n].copy_(old.head.bias[:n])
    return tied


def finetune_learning_rate(step: int, args: argparse.Namespace) -> float:
    """50 warm-up steps (again when the whole model starts training after --head-warmup),
    then a cosine decay to a tenth of the peak at --finetune-steps."""
    head_warmup = getattr(args, "head_warmup", 0)
    since = step - head_warmup if step >= head_warmup else step
    if since < 50:
        return args.finetune_lr * (since + 1) / 50
    progress = (step - 50) / max(1, args.finetune_steps - 50)
    return args.finetune_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def finetune(args: argparse.Namespace) -> None:
    """Continue training the model in ``args.init`` on the current corpus with copying
    windows (:func:`make_finetune_batch`); resumable from ``args.run_dir``."""
    from model.core.weights import load_model
    from model.training.copying import copy_accuracy, usable_words, word_list_items

    torch.manual_seed(args.seed)
    minilm = require_minilm_folder()
    tokenizer = TextTokenizer.from_file(minilm / TOKENIZER_FILE)
    model = load_model(args.init)
    if args.tied_output and not model.cfg.adaptive_tied:
        model = with_tied_output(model)
    cfg = model.cfg
    vocab = OutputVocabulary.from_token_ids(cfg.output_token_ids, cfg.vocab_size, UNK_ID)
    base = json.loads((args.init / "training.json").read_text()) if (args.init / "training.json").is_file() else {}
    train_ids = load_split_tokens(args.corpus, args.tokens, "train", tokenizer, EOD_ID)
    valid_ids = load_split_tokens(args.corpus, args.tokens, "valid", tokenizer, EOD_ID)
    print(f"continuing {args.init} ({cfg.name}): train {len(train_ids):,} tokens, valid {len(valid_ids):,}; "
          f"output vocabulary {len(vocab):,} covers {vocab.coverage(valid_ids):.2%} of validation tokens", flush=True)
    model.tok_embed.weight.requires_grad_(False)
    optimizer = make_optimizer(model, args.finetune_lr, args.weight_decay)
    train_targets, valid_targets = vocab.targets(train_ids), vocab.targets(valid_ids)
    train_ids, valid_ids = train_ids.astype(np.int64), valid_ids.astype(np.int64)
    repeat_pool = np.asarray(vocab.token_ids[: args.repeat_pool], dtype=np.int64)
    valid_x, valid_y = evaluation_windows(valid_ids, valid_targets, cfg.n_ctx, max_windows=160)
    # a validation copy probe: everyday-word lists with another seed than the card's test
    probe = word_list_items(usable_words(tokenizer, vocab.index_of, vocab.token_ids), 48, seed=7, bos=BOS_ID)
    induction_rows = induction_probe(vocab.token_ids[100:3000], INDUCTION_PROBE_LENGTH, 16, args.seed, BOS_ID)

    args.run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = args.run_dir / "checkpoint.pt"
    history: list[dict] = []
    step, elapsed = 0, 0.0
    if checkpoint_path.is_file():
        state = torch.load(checkpoint_path, weights_only=True)
        if state.get("config", json.dumps(cfg.to_dict())) != json.dumps(cfg.to_dict()):
            raise SystemExit(f"{checkpoint_path} was written for another configuration; remove it to start over")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        history = json.loads(state["history"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed from step {step} ({elapsed / 60:.1f} min already spent)", flush=True)

    def save_checkpoint() -> None:
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "elapsed": elapsed, "history": json.dumps(history), "torch_rng": torch.get_rng_state(),
                    "config": json.dumps(cfg.to_dict())}, tmp)
        os.replace(tmp, checkpoint_path)

    def evaluate_now() -> None:
        val = mean_loss(model, valid_x, valid_y)
        copy = copy_accuracy(model, probe)
        induction = float(induction_scores(attention_patterns(model, induction_rows), 1, INDUCTION_PROBE_LENGTH).max())
        model.train()
        history.append({"step": step, "valid_loss": val, "valid_ppl": math.exp(val), "minutes": elapsed / 60,
                        "list_copy_accuracy": copy, "max_induction_score": induction})
        print(f"  eval step {step}: valid loss {val:.3f}  perplexity {math.exp(val):.1f}  "
              f"list copying {copy:.1%}  best induction score {induction:.2f}", flush=True)

    if not history and not args.export_only:
        evaluate_now()
    model.train()
    window_start, window_loss = time.perf_counter(), 0.0
    stop = min(args.finetune_steps, args.stop_at or args.finetune_steps)
    while step < stop and not args.export_only:
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = finetune_learning_rate(step, args)
        x, y = make_finetune_batch(train_ids, train_targets, np.random.default_rng([args.seed, 1, step]),
                                   args.finetune_batch, cfg.n_ctx, vocab.index_of, repeat_pool,
                                   args.tiled_fraction, args.span_fraction)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            if step < args.head_warmup:  # a new output layer learns to read the trained body first
                with torch.no_grad():
                    h = model.hidden(x)
                loss = model.unembed.loss(h.reshape(-1, h.shape[-1]), y.reshape(-1), model.output_table())
            else:
                loss = model.loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed += time.perf_counter() - t0
        window_loss += loss.item()
        if step % 50 == 0:
            print(f"step {step:5d}  loss {window_loss / 50:.3f}  lr {finetune_learning_rate(step, args):.2e}  "
                  f"{(time.perf_counter() - window_start) / 50:.2f} s/step  {elapsed / 60:.1f} min", flush=True)
            window_start, window_loss = time.perf_counter(), 0.0
        if step % args.eval_every == 0 or step == args.finetune_steps:
            evaluate_now()
        if step % args.checkpoint_every == 0 or step in (args.finetune_steps, stop):
            save_checkpoint()
    if step < args.finetune_steps and not args.export_only:
        print(f"stopped at step {step} (--stop-at); resume with the same --run-dir", flush=True)
        return

    model.eval()
    save_model(model, args.out, half_precision=True, metadata={"format": "pt"})
    shutil.copyfile(minilm / TOKENIZER_FILE, args.out / TOKENIZER_FILE)
    tokens = step * args.finetune_batch * cfg.n_ctx
    summary = dict(base)
    summary["continued"] = {
        "from": str(args.init), "steps": step, "batch": args.finetune_batch, "context": cfg.n_ctx, "lr": args.finetune_lr,
        "tiled_fraction": args.tiled_fraction, "span_fraction": args.span_fraction, "repeat_pool": args.repeat_pool,
        "tied_output": bool(args.tied_output), "head_warmup": args.head_warmup, "bf16": bool(args.bf16),
        "seed": args.seed, "tokens_seen": tokens, "train_tokens": int(len(train_ids)), "minutes": round(elapsed / 60, 1),
        "threads": args.threads, "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}",
        "torch": torch.__version__, "history": history, "note": args.note,
    }
    summary["trainable_parameters"] = model.num_parameters(trainable_only=True)
    summary["total_cpu_minutes"] = round(float(base.get("minutes", 0)) * int(base.get("threads", 1))
                                         + elapsed / 60 * args.threads, 1)
    (args.out / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.init is not None:
        finetune(args)
        return
    torch.manual_seed(args.seed)
    minilm = require_minilm_folder()
    tokenizer = TextTokenizer.from_file(minilm / TOKENIZER_FILE)
    train_ids = load_split_tokens(args.corpus, args.tokens, "train", tokenizer, EOD_ID)
    valid_ids = load_split_tokens(args.corpus, args.tokens, "valid", tokenizer, EOD_ID)
    vocab = OutputVocabulary.from_counts(train_ids, 30522, args.min_count, UNK_ID, never=(PAD_ID, BOS_ID))
    cfg = build_config(vocab, args)
    print(
        f"train {len(train_ids):,} tokens, valid {len(valid_ids):,}; output vocabulary {len(vocab):,} "
        f"(covers {vocab.coverage(valid_ids):.2%} of validation tokens)",
        flush=True,
    )
    model = Transformer(cfg)
    model.tok_embed.weight.data.copy_(torch.from_numpy(load_word_embeddings(minilm)))
    model.tok_embed.weight.requires_grad_(False)
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    train_targets, valid_targets = vocab.targets(train_ids), vocab.targets(valid_ids)
    train_ids, valid_ids = train_ids.astype(np.int64), valid_ids.astype(np.int64)
    induction_rows = induction_probe(vocab.token_ids[100:3000], INDUCTION_PROBE_LENGTH, 16, args.seed, BOS_ID)
    repeat_pool = np.asarray(vocab.token_ids[: args.repeat_pool], dtype=np.int64)
    valid_x, valid_y = evaluation_windows(valid_ids, valid_targets, args.context, max_windows=256)

    args.run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = args.run_dir / "checkpoint.pt"
    history: list[dict] = []
    step, elapsed = 0, 0.0
    if checkpoint_path.is_file():
        state = torch.load(checkpoint_path, weights_only=True)
        if state["config"] != json.dumps(cfg.to_dict()):
            raise SystemExit(f"{checkpoint_path} was written for another configuration; remove it to start over")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        history = json.loads(state["history"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed from step {step} ({elapsed / 60:.1f} min already spent)", flush=True)

    def save_checkpoint() -> None:
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "elapsed": elapsed, "history": json.dumps(history), "config": json.dumps(cfg.to_dict()),
                "torch_rng": torch.get_rng_state(),
            },
            tmp,
        )
        os.replace(tmp, checkpoint_path)

    model.train()
    window_start, window_tokens, window_loss = time.perf_counter(), 0, 0.0
    total_steps = args.steps + args.stage2_steps
    while step < total_steps:
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        stage2 = step >= args.steps
        x, y = make_batch(train_ids, train_targets, np.random.default_rng([args.seed, step]), args.batch, args.context,
                          vocab.index_of, args.repeat_fraction if stage2 else 0.0, repeat_pool)
        loss = model.loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed += time.perf_counter() - t0
        window_tokens += y.numel()
        window_loss += loss.item()
        if step % 50 == 0:
            rate = window_tokens / (time.perf_counter() - window_start)
            print(f"step {step:5d}  loss {window_loss / 50:.3f}  lr {learning_rate(step, args):.2e}  "
                  f"{rate:,.0f} tok/s  {elapsed / 60:.1f} min", flush=True)
            window_start, window_tokens, window_loss = time.perf_counter(), 0, 0.0
        if step % args.eval_every == 0 or step in (args.steps, total_steps):
            val = mean_loss(model, valid_x, valid_y)
            induction = float(induction_scores(attention_patterns(model, induction_rows), 1, INDUCTION_PROBE_LENGTH).max())
            model.train()
            history.append({"step": step, "valid_loss": val, "valid_ppl": math.exp(val), "minutes": elapsed / 60,
                            "max_induction_score": induction})
            print(f"  eval step {step}: valid loss {val:.3f}  perplexity {math.exp(val):.1f}  "
                  f"best induction score {induction:.2f}", flush=True)
            save_checkpoint()

    model.eval()
    save_model(model, args.out, half_precision=True, metadata={"format": "pt"})
    shutil.copyfile(minilm / TOKENIZER_FILE, args.out / TOKENIZER_FILE)
    summary = {
        "steps": step, "stage1_steps": args.steps, "stage2_steps": args.stage2_steps,
        "repeat_fraction": args.repeat_fraction, "repeat_pool": args.repeat_pool, "stage2_lr": args.stage2_lr, "batch": args.batch, "context": args.context, "seed": args.seed,
        "tokens_seen": step * args.batch * args.context, "train_tokens": int(len(train_ids)),
        "output_vocabulary": len(vocab), "minutes": round(elapsed / 60, 1),
        "threads": args.threads, "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}",
        "torch": torch.__version__, "history": history,
        "trainable_parameters": model.num_parameters(trainable_only=True),
    }
    (args.out / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
