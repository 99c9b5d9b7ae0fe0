"""8-bit weights for live typing on real-sized models: a quarter of float32's bytes per token.

Typing on a GPT-2-small-sized model is memory-bound: one new token reads every weight once
(498 MB in float32, ~36 ms on one thread of this kind of 2-core machine). With 8-bit weights
it reads ~125 MB.

Which kernel, measured here (2026-12-05, one thread, one token through GPT-2 small's 48 block
linears plus its 50,257 × 768 output matrix, median of 30; ``python -m model.bench.int8``):

==============================================  ========  ==============================
kernel                                           ms        output-matrix error (relative)
==============================================  ========  ==============================
float32 ``F.linear``                             34.6
torch's dynamic int8 (fbgemm, per channel)       10.1      1.4 % (random weights)
torchao 0.18 ``Int8WeightOnlyConfig``            98.6      0.4 %
torchao 0.18 ``Int8DynamicActivationInt8Weight`` 29.5      0.8 %
``torch._weight_int8pack_mm``                    103-112   (slower than float32)
==============================================  ========  ==============================

So the live path uses torch's own dynamic-quantised linear (``torch.ao.nn.quantized.dynamic``,
fbgemm kernels): int8 weights with one scale per output channel, the input quantised to
8 bits per call from its own range, int32 accumulation, float32 out. torchao is the
maintained successor of ``torch.ao.quantization`` but its CPU paths were 3-10× slower here;
torch 2.13 warns that the quantised tensor API is deprecated — the warning is silenced where
the layers are built and the choice is revisited when torchao's CPU kernel catches up.

Fidelity is measured, not assumed (:mod:`model.analysis.fidelity`). One caveat shapes the
layer: the input is quantised with one range per call, and pretrained decoders have a few
"massive activation" rows (the first token's residual can be 100× the others). In a call
over many rows those outliers would set the range for all of them, so rows whose largest
magnitude stands far above the others' are multiplied in float32 against the original
weights (kept, shared with the float32 model the app keeps for exact numbers). Typing one
token at a time never meets this: one row is its own range.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

#: A row whose largest magnitude exceeds this multiple of the median row's goes through float32.
OUTLIER_RATIO = 8.0


def _quantised_linear(weight: torch.Tensor, bias: torch.Tensor | None, reduce_range: bool = True) -> nn.Module:
    """fbgemm's dynamic int8 linear for ``weight`` (out, in), one scale per output row."""
    out_features, in_features = weight.shape
    w = weight.detach().float().contiguous()
    scales = (w.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()
    zero_points = torch.zeros(out_features, dtype=torch.long)
    with warnings.catch_warnings():  # torch 2.13: "quantized tensors are deprecated" (see module docstring)
        warnings.simplefilter("ignore")
        qweight = torch.quantize_per_channel(w, scales, zero_points, axis=0, dtype=torch.qint8)
        layer = torch.ao.nn.quantized.dynamic.Linear(in_features, out_features, bias_=bias is not None,
                                                      dtype=torch.qint8)
        layer.set_weight_bias(qweight, None if bias is None else bias.detach().float().contiguous())
    if not reduce_range:
        return _FullRange(layer)
    return layer


class _FullRange(nn.Module):
    """The dynamic linear with 8-bit (not 7-bit) input quantisation."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(rows, self.layer._packed_params._packed_params, False)


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights (per output channel): float32 in, float32 out.

    ``weight`` keeps the original float32 weight (shared, not copied) for outlier rows and for
    anything that reads weights (the step-through's W_Q/W_K/W_V/W_O, head_weights); the
    product of ordinary rows comes from the int8 copy.
    """

    def __init__(self, linear: nn.Linear, input_peaks: torch.Tensor | None = None, alpha: float = 0.5,
                 reduce_range: bool = True) -> None:
        super().__init__()
        self.out_features, self.in_features = linear.out_features, linear.in_features
        self.weight = linear.weight  # shared with the float32 model: no copy
        self.bias = linear.bias
        w = linear.weight.detach().float()
        if input_peaks is not None:  # SmoothQuant: move the inputs' outlier channels into the weights
            peaks = input_peaks.float().clamp_min(1e-5)
            s = (peaks.pow(alpha) / w.abs().amax(dim=0).clamp_min(1e-5).pow(1 - alpha)).clamp(1e-4, 1e4)
            self.register_buffer("smooth", (1.0 / s).contiguous(), persistent=False)
            w = w * s
        else:
            self.smooth = None
        self.q = _quantised_linear(w, linear.bias, reduce_range)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        return cls(linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        if rows.shape[0] > 1:
            peaks = rows.abs().amax(dim=1)
            outliers = peaks > OUTLIER_RATIO * peaks.median().clamp_min(1e-30)
            if bool(outliers.any()):
                y = torch.empty(rows.shape[0], self.out_features, dtype=torch.float32, device=rows.device)
                ordinary = ~outliers
                if bool(ordinary.any()):
                    part = rows[ordinary]
                    if self.smooth is not None and not isinstance(self.q, _FloatPath):
                        part = part * self.smooth
                    y[ordinary] = self.q(part.contiguous())
                y[outliers] = F.linear(rows[outliers], self.weight.float(), self.bias)
                return y.view(*x.shape[:-1], self.out_features)
        if self.smooth is not None and not isinstance(self.q, _FloatPath):
            rows = rows * self.smooth
        return self.q(rows.contiguous()).view(*x.shape[:-1], self.out_features)

    def int8_bytes(self) -> int:
        """Bytes the int8 product reads: the weights plus one float scale per row."""
        return self.out_features * self.in_features + 8 * self.out_features

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def input_peaks(module: nn.Module, texts) -> dict[nn.Module, torch.Tensor]:
    """Each block linear's (and the unembedding's) largest input magnitude per channel over
    token-id sequences ``texts``: SmoothQuant's calibration (float32 forward passes)."""
    peaks: dict[nn.Module, torch.Tensor] = {}
    handles = []
    for sub in module.modules():
        if type(sub) is nn.Linear:
            def hook(mod, args, _peaks=peaks):
                x = args[0].detach().reshape(-1, args[0].shape[-1]).abs().amax(dim=0).float()
                _peaks[mod] = torch.maximum(_peaks[mod], x) if mod in _peaks else x
            handles.append(sub.register_forward_pre_hook(hook))
    device = next(module.parameters()).device
    try:
        with torch.inference_mode():
            for ids in texts:
                if len(ids):
                    module(torch.as_tensor(list(ids), device=device).unsqueeze(0))
    finally:
        for h in handles:
            h.remove()
    return peaks


def to_int8(module: nn.Module, peaks: dict | None = None, alpha: float = 0.5, reduce_range: bool = True) -> nn.Module:
    """Convert ``module`` (a :class:`~model.core.transformer.Transformer`) in place: every block's
    qkv, attention output and MLP linears, and a plain linear unembedding (tied or not), become
    :class:`Int8Linear`. Norms, embeddings, an adaptive softmax head and the embedding
    projection stay float32. Returns ``module``."""
    from model.core.transformer import MLP, Attention

    peaks = peaks or {}

    def convert(linear: nn.Module) -> nn.Module:
        if type(linear) is not nn.Linear:
            return linear
        return Int8Linear(linear, peaks.get(linear), alpha, reduce_range)

    for sub in list(module.modules()):
        if isinstance(sub, Attention):
            sub.qkv, sub.out = convert(sub.qkv), convert(sub.out)
        elif isinstance(sub, MLP):
            sub.fc, sub.proj = convert(sub.fc), convert(sub.proj)
            if sub.gate is not None:
                sub.gate = convert(sub.gate)
    if type(getattr(module, "unembed", None)) is nn.Linear:
        module.unembed = convert(module.unembed)
    return module


def int8_layers(module: nn.Module) -> list[Int8Linear]:
    return [m for m in module.modules() if isinstance(m, Int8Linear)]


class exact_float32:  # noqa: N801 (a context manager used like a function)
    """Within ``with exact_float32(module):`` every :class:`Int8Linear` multiplies by its float32
    weight: the numbers the step-through, DLA, exports and lessons show are float32's, never
    8-bit's. Re-entrant; the int8 path is back on exit."""

    def __init__(self, module: nn.Module) -> None:
        self.layers = int8_layers(module)
        self.saved: list[nn.Module] = []

    def __enter__(self) -> exact_float32:
        for layer in self.layers:
            self.saved.append(layer.q)
            layer.q = _FloatPath(layer)
        return self

    def __exit__(self, *exc) -> None:
        for layer in reversed(self.layers):
            layer.q = self.saved.pop()


class _FloatPath(nn.Module):
    def __init__(self, layer: Int8Linear) -> None:
        super().__init__()
        self.__dict__["layer"] = layer  # not a submodule: no cycle in module traversal

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return F.linear(rows, self.layer.weight.float(), self.layer.bias)


__all__ = ["Int8Linear", "OUTLIER_RATIO", "exact_float32", "int8_layers", "to_int8"]
