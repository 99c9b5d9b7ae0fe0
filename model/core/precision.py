"""Weights in bfloat16 for large models: half the bytes to read per typed token.

Typing on a GPT-2-small-sized model is memory-bound: each new token reads every weight once,
498 MB in float32, about 36 ms at this kind of machine's 13.8 GB/s on one thread
(``python -m model.bench.memory``). With ``precision="bfloat16"`` the large matrices — every
block's qkv, attention output and MLP matrices, and the unembedding — are kept in bfloat16
(GPT-2 small: 247 MB) and multiplied in bfloat16 by torch's CPU kernels (oneDNN, AMX where
the CPU has it), which accumulate in float32 and round the result to bfloat16.

Half the bytes is not half the time: on the 2-core test machine (Intel Xeon with AMX) typing
on a GPT-2-small-sized model was no faster in the app (forward p50 45.2 ms in bfloat16 against
42.6 ms in float32), because torch's bfloat16 matrix-vector kernel read about 7 GB/s on one
core against float32's 10 GB/s (docs/benchmarks.md, "Final tree of this release"). The Model
menu does not offer it; ``python -m explorer.bench --precision bfloat16`` measures it elsewhere.

Everything else stays float32: the token and position embeddings (the embedding table panels
read), the norms, the softmax, the residual stream, and every array of the Trace. Each big
matmul rounds its input to bfloat16 (8 significant bits) and its output too; the result is
converted to float32 at once and the bias added in float32.

Costs and caveats:

* The tied unembedding of GPT-2 gets its own bfloat16 copy (77 MB); the float32 embedding
  table stays for lookups and for :class:`~model.core.info.ModelInfo`.
* The heads' outputs (``Trace.head_out``) are z_h times W_O[h] in float32, with the
  rounded W_O (:meth:`~model.core.transformer.Attention.head_weights`, a float32 copy by head
  that a float32 model keeps too), while ``attn_out`` comes from the bfloat16 product: the
  head outputs sum to ``attn_out`` minus the bias only to bfloat16 rounding (~0.4 % of the
  largest entry), not to float32's.
* Weights read as float32 elsewhere (the step-through view's W_Q/W_K/W_V/W_O) become float32
  copies of the rounded weights instead of views.
* The incremental trace equals the full pass only to bfloat16 rounding, not to 1e-5: one
  new token is multiplied by a matrix-vector kernel, a whole text by a matrix-matrix one,
  and the two sum in different orders before rounding to 8 bits (see
  tests/model/test_precision.py for the tolerance measured).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from model.core.transformer import MLP, Attention

Precision = Literal["float32", "float16", "int8", "bfloat16", "auto"]
#: The weights' precisions a model can run at: float32 (exact), float16 and int8 weights
#: (:mod:`model.core.int8`), bfloat16 (this module).
PRECISIONS: tuple[str, ...] = ("float32", "float16", "int8", "bfloat16")
#: What a status line calls each precision.
SHORT_NAMES = {"float32": "fp32", "float16": "fp16", "int8": "int8", "bfloat16": "bf16"}
#: Models with at least this many parameters may run with 16-bit weights when the precision is
#: "auto" and it is faster on this machine (:func:`model.core.int8.faster_than_float32`).
AUTO_MIN_PARAMETERS = 50_000_000


def check_precision(precision: str, allow_auto: bool = False) -> str:
    if precision not in PRECISIONS and not (allow_auto and precision == "auto"):
        choices = PRECISIONS + (("auto",) if allow_auto else ())
        raise ValueError(f"precision must be one of {', '.join(choices)}, got {precision!r}")
    return precision


class BF16Linear(nn.Module):
    """``nn.Linear`` with a bfloat16 weight: float32 in, float32 out.

    ``weight`` is (out, in) bfloat16; ``bias`` stays float32 and is added after the product
    is converted back to float32. One input row (typing: one new token) goes through
    ``torch.mv``, whose bfloat16 kernel reads the weight at close to memory speed; several
    rows through ``F.linear`` (oneDNN's matrix-matrix kernel, AMX where there is one).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = nn.Parameter(weight.detach().to(torch.bfloat16).contiguous(), requires_grad=False)
        self.bias = nn.Parameter(bias.detach().float().clone(), requires_grad=False) if bias is not None else None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> BF16Linear:
        return cls(linear.weight, linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)
        if rows.shape[0] == 1:
            y = torch.mv(self.weight, rows[0]).unsqueeze(0)
        else:
            y = F.linear(rows, self.weight)
        y = y.float()
        if self.bias is not None:
            y += self.bias
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def to_bfloat16(module: nn.Module) -> nn.Module:
    """Convert ``module`` (a :class:`~model.core.transformer.Transformer`) in place: every block's
    qkv, attention output and MLP linears, and a plain linear unembedding, become
    :class:`BF16Linear`. Norms, embeddings, an adaptive softmax head and the embedding projection stay
    float32. Returns ``module``."""
    for sub in list(module.modules()):
        if isinstance(sub, Attention):
            sub.qkv = _convert(sub.qkv)
            sub.out = _convert(sub.out)
        elif isinstance(sub, MLP):
            sub.fc = _convert(sub.fc)
            sub.proj = _convert(sub.proj)
            if sub.gate is not None:
                sub.gate = _convert(sub.gate)
    unembed = getattr(module, "unembed", None)
    if type(unembed) is nn.Linear:  # tied or not: the bfloat16 copy is the unembedding's own
        module.unembed = BF16Linear.from_linear(unembed)
    return module


def _convert(linear: nn.Module) -> nn.Module:
    return BF16Linear.from_linear(linear) if type(linear) is nn.Linear else linear


def module_precision(module: nn.Module) -> str:
    """"bfloat16", "int8" or "float16" when ``module``'s linears were converted, else "float32"."""
    from model.core.int8 import lowbit_precision

    if any(isinstance(m, BF16Linear) for m in module.modules()):
        return "bfloat16"
    return lowbit_precision(module) or "float32"


__all__ = ["AUTO_MIN_PARAMETERS", "BF16Linear", "PRECISIONS", "SHORT_NAMES", "check_precision", "module_precision", "to_bfloat16"]
