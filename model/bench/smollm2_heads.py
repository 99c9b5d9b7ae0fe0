"""SmolLM2's previous-token, first-token (sink) and induction heads as the app scores them
(:mod:`model.analysis.heads`): the figures in the README. ``python -m model.bench.smollm2_heads``."""

from __future__ import annotations

from model.analysis.fidelity import HELD_OUT_TEXTS

# Prose for the head scores of ``python -m model.bench.smollm2_heads``: varied, plain English.
SAMPLE_TEXT = HELD_OUT_TEXTS  # the 8-bit fidelity's held-out sentences: model/analysis/fidelity.py


def main() -> None:
    """Print SmolLM2's previous-token, first-token (sink) and induction heads as the app
    scores them (:mod:`model.analysis.heads`): the figures in the README."""
    import numpy as np

    from model.analysis.heads import measure_head_roles
    from model.loading import load_tracing_model

    model = load_tracing_model("smollm2", device="cpu")
    text_ids = [np.asarray(model.tokenizer.encode(t).ids) for t in SAMPLE_TEXT]
    vocab = model.tokenizer.vocabulary(model.cfg.vocab_size)
    words = np.array([i for i in range(1000, 8000) if vocab[i].startswith(" ") and vocab[i][1:].isalpha()])
    roles = measure_head_roles(model.module, text_ids, words, repeat_length=25, n_random=32)

    def top(scores: np.ndarray, n: int = 6) -> str:
        order = np.argsort(-scores, axis=None)[:n]
        cells = zip(*np.unravel_index(order, scores.shape), strict=True)
        return ", ".join(f"{layer}.{head} ({scores[layer, head]:.2f})" for layer, head in cells)

    print("previous-token:", top(roles.previous_token))
    print("induction:     ", top(roles.induction))
    print("first token:   ", top(roles.first_token))
    print(f"heads with first-token score >= 0.5: {int((roles.first_token >= 0.5).sum())} of {roles.first_token.size}")
    print(f"previous-token heads (>= 0.4): {roles.previous_token_heads}")
    print(f"induction heads (>= 0.3): {roles.induction_heads}")


if __name__ == "__main__":
    main()
