"""8- and 16-bit weights for live typing on real-sized models: a quarter or half of float32's
bytes per token.

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

**16-bit weights** (:class:`Fp16Linear`): fbgemm's float16-weight linear
(``torch.ops.quantized.linear_dynamic_fp16``) keeps the weights in IEEE half precision (11
significant bits), converts them to float32 inside the kernel and multiplies float32 inputs,
so nothing but the weights is rounded. Measured on SmolLM2 (docs/benchmarks.md): top-1
agreement with float32 100 % and KL 0.0000 nats where every 8-bit variant stayed under 96 %,
because 8-bit *inputs* (which the fast int8 kernel needs) lose more than any layer choice wins
back. It reads half of float32's bytes.

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

from model.core import halves

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


class LowBitLinear(nn.Module):
    """An ``nn.Linear`` whose product comes from a smaller copy of its weight (``q``), while
    ``weight`` and ``bias`` stay the original float32 ones (shared, not copied): anything that
    reads weights (the step-through's W_Q/W_K/W_V/W_O, head_weights) sees float32, and
    :class:`exact_float32` multiplies by them."""

    #: The precision name of the copy ("int8", "float16").
    kind = ""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.out_features, self.in_features = linear.out_features, linear.in_features
        self.weight = linear.weight  # shared with the float32 model: no copy
        self.bias = linear.bias

    def weight_bytes(self) -> int:
        """Bytes one product reads from the small copy."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


#: The most weights one packed piece holds: a large matrix (a 262,144-token output matrix) is
#: packed in row pieces, so building it is many short steps and typing waits for one.
PIECE_PARAMETERS = 4_000_000


def _row_pieces(linear: nn.Linear) -> list[slice]:
    rows = max(1, PIECE_PARAMETERS // max(1, linear.in_features))
    return [slice(start, min(start + rows, linear.out_features)) for start in range(0, linear.out_features, rows)]


class _Pieces(nn.Module):
    """Products of row pieces of one weight matrix (``weights`` in all), side by side; on two
    threads when the matrix is large and the app has a helper thread (:mod:`model.core.halves`)."""

    def __init__(self, products: list, weights: int) -> None:
        super().__init__()
        self.products = products
        self.weights = weights

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        if len(self.products) == 1:
            return self.products[0](rows)
        return halves.side_by_side(self.products, rows, self.weights)


class Fp16Linear(LowBitLinear):
    """``nn.Linear`` with float16 weights (fbgemm's packed copy): float32 in, float32 out; only
    the weights are rounded (to 11 significant bits)."""

    kind = "float16"

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__(linear)
        pieces = list(self.build_steps(linear))
        self.q = _Pieces(pieces, linear.in_features * linear.out_features)

    @staticmethod
    def build_steps(linear: nn.Linear):
        """The packed row pieces of ``linear``, one at a time."""
        weight = linear.weight.detach().float()
        bias = None if linear.bias is None else linear.bias.detach().float()
        for rows in _row_pieces(linear):
            packed = torch.ops.quantized.linear_prepack_fp16(
                weight[rows].contiguous(), None if bias is None else bias[rows].contiguous())
            yield _Fp16Product(packed)

    @classmethod
    def from_pieces(cls, linear: nn.Linear, pieces: list) -> Fp16Linear:
        layer = cls.__new__(cls)
        LowBitLinear.__init__(layer, linear)
        layer.q = _Pieces(pieces, linear.in_features * linear.out_features)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float().contiguous()
        return self.q(rows).view(*x.shape[:-1], self.out_features)

    def weight_bytes(self) -> int:
        return 2 * self.out_features * self.in_features


class _Fp16Product(nn.Module):
    def __init__(self, packed) -> None:
        super().__init__()
        self.packed = packed

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic_fp16(rows, self.packed)


class Int8Linear(LowBitLinear):
    """``nn.Linear`` with int8 weights (per output channel): float32 in, float32 out.

    Outlier rows (see the module docstring) are multiplied by the float32 ``weight``; the
    product of ordinary rows comes from the int8 copy.
    """

    kind = "int8"

    def __init__(self, linear: nn.Linear, input_peaks: torch.Tensor | None = None, alpha: float = 0.5,
                 reduce_range: bool = True, build: bool = True) -> None:
        super().__init__(linear)
        w = linear.weight.detach().float()
        if input_peaks is not None:  # SmoothQuant: move the inputs' outlier channels into the weights
            peaks = input_peaks.float().clamp_min(1e-5)
            s = (peaks.pow(alpha) / w.abs().amax(dim=0).clamp_min(1e-5).pow(1 - alpha)).clamp(1e-4, 1e4)
            self.register_buffer("smooth", (1.0 / s).contiguous(), persistent=False)
            w = w * s
        else:
            self.smooth = None
        bias = None if linear.bias is None else linear.bias.detach()
        self._pending = [(w[rows], None if bias is None else bias[rows], reduce_range) for rows in _row_pieces(linear)]
        if build:  # every piece now; else one per build_step() (lowbit_steps)
            while self.build_step():
                pass

    def build_step(self) -> bool:
        """Quantise the next row piece; False once every piece is built (then the layer runs)."""
        if not self._pending:
            return False
        w, bias, reduce_range = self._pending.pop(0)
        built = getattr(self, "q", None)
        products = list(built.products) if isinstance(built, _Pieces) else []
        self.q = _Pieces(products + [_quantised_linear(w, bias, reduce_range)], self.in_features * self.out_features)
        return bool(self._pending)

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

    def weight_bytes(self) -> int:
        """Bytes the int8 product reads: the weights plus one float scale per row."""
        return self.out_features * self.in_features + 8 * self.out_features

    int8_bytes = weight_bytes


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
    peaks = peaks or {}
    return _convert_linears(module, lambda linear: Int8Linear(linear, peaks.get(linear), alpha, reduce_range))


def to_float16(module: nn.Module) -> nn.Module:
    """Convert ``module`` in place as :func:`to_int8` does, to :class:`Fp16Linear`."""
    return _convert_linears(module, Fp16Linear)


def _convert_linears(module: nn.Module, make) -> nn.Module:
    for parent, name, linear in product_linears(module):
        setattr(parent, name, make(linear))
    return module


def product_linears(module: nn.Module) -> list[tuple[nn.Module, str, nn.Linear]]:
    """(parent, attribute, linear) of every float32 weight matrix one token multiplies by:
    each block's qkv, attention output and MLP linears, and a plain linear unembedding."""
    from model.core.transformer import MLP, Attention

    found = []
    for sub in module.modules():
        names = ("qkv", "out") if isinstance(sub, Attention) else ("fc", "gate", "proj") if isinstance(sub, MLP) else ()
        found += [(sub, name, getattr(sub, name)) for name in names if type(getattr(sub, name, None)) is nn.Linear]
    if type(getattr(module, "unembed", None)) is nn.Linear:
        found.append((module, "unembed", module.unembed))
    return found


def lowbit_steps(module: nn.Module, precision: str, peaks: dict | None = None):
    """Convert ``module`` to ``precision`` ("float16" or "int8") in short steps: yields
    ``(done, total)`` after building each piece (a 16-bit matrix in row pieces of at most
    :data:`PIECE_PARAMETERS` weights), while ``module`` still runs in float32 — its own
    layers are untouched until the last step, which swaps every new layer in at once. So a
    model thread can interleave traces between the steps. ``peaks``: int8's calibration
    (:func:`input_peaks`)."""
    targets = product_linears(module)
    if precision == "float16":
        plans = [(t, _row_pieces(t[2])) for t in targets]
        total = sum(len(pieces) for _, pieces in plans) + 1
        done, built = 0, []
        for (parent, name, linear), _pieces in plans:
            pieces = []
            for piece in Fp16Linear.build_steps(linear):
                pieces.append(piece)
                done += 1
                yield done, total
            built.append((parent, name, Fp16Linear.from_pieces(linear, pieces)))
    elif precision == "int8":
        peaks = peaks or {}
        total = sum(len(_row_pieces(linear)) for *_, linear in targets) + 1
        done, built = 0, []
        for parent, name, linear in targets:
            layer = Int8Linear(linear, peaks.get(linear), reduce_range=False, build=False)
            while True:
                more = layer.build_step()
                done += 1
                yield done, total
                if not more:
                    break
            built.append((parent, name, layer))
    else:
        raise ValueError(f"no 8- or 16-bit conversion for {precision!r}")
    for parent, name, layer in built:
        setattr(parent, name, layer)
    yield total, total


def int8_layers(module: nn.Module) -> list[LowBitLinear]:
    """Every 8- or 16-bit layer of ``module``."""
    return [m for m in module.modules() if isinstance(m, LowBitLinear)]


lowbit_layers = int8_layers


def lowbit_precision(module: nn.Module) -> str | None:
    """"int8" or "float16" when ``module``'s linears were converted, else None."""
    kinds = {m.kind for m in module.modules() if isinstance(m, LowBitLinear)}
    return "int8" if "int8" in kinds else "float16" if kinds else None


def weight_bytes_per_token(module: nn.Module) -> int:
    """Bytes of weight matrices one new token reads: the block linears and a linear
    unembedding, at their stored precision (the embedding rows read are negligible)."""
    total = sum(m.weight_bytes() for m in module.modules() if isinstance(m, LowBitLinear))
    return total + sum(lin.weight.numel() * lin.weight.element_size() for _, _, lin in product_linears(module))


class exact_float32:  # noqa: N801 (a context manager used like a function)
    """Within ``with exact_float32(module):`` every :class:`LowBitLinear` multiplies by its float32
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
    def __init__(self, layer: LowBitLinear) -> None:
        super().__init__()
        self.__dict__["layer"] = layer  # not a submodule: no cycle in module traversal

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return F.linear(rows, self.layer.weight.float(), self.layer.bias)





def product_speeds(module: nn.Module, repeats: int = 3) -> dict[str, float]:
    """Milliseconds one token's products take through a sample of ``module``'s weight
    matrices — block linears in order, then a row piece of a linear unembedding, at least
    :data:`SPEED_SAMPLE_BYTES` of float32 weights, more than a CPU cache holds (a sample that
    fits in cache hides what reading fewer bytes saves) — at float32 (on torch's current
    threads) and at float16 and int8 (on one thread, as the app runs them); best of
    ``repeats``, the copies built for the measurement and dropped. Measured once at load to
    decide whether smaller weights are faster on this machine."""
    linears, total = [], 0
    unembed = getattr(module, "unembed", None)
    if type(unembed) is nn.Linear:  # one row piece of it: a 262,144-row matrix takes seconds to pack
        rows = _row_pieces(unembed)[0]
        piece = nn.Linear(unembed.in_features, rows.stop - rows.start, bias=unembed.bias is not None)
        piece.weight = nn.Parameter(unembed.weight.detach()[rows], requires_grad=False)
        if unembed.bias is not None:
            piece.bias = nn.Parameter(unembed.bias.detach()[rows], requires_grad=False)
        linears, total = [piece], 4 * piece.weight.numel()
    for _, name, linear in product_linears(module):
        if total >= SPEED_SAMPLE_BYTES:
            break
        if name != "unembed":
            linears.append(linear)
            total += 4 * linear.weight.numel()
    if not linears:
        return {}
    speeds = {"float32": _one_token_ms(linears, repeats)}  # at the thread count float32 runs with
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as 8- and 16-bit weights run in the app (explorer/runtime.py)
    try:
        speeds["float16"] = _one_token_ms([Fp16Linear(lin) for lin in linears], repeats)
        speeds["int8"] = _one_token_ms([Int8Linear(lin, reduce_range=False) for lin in linears], repeats)
    finally:
        torch.set_num_threads(threads)
    return speeds


def token_products_ms(module: nn.Module, repeats: int = 5) -> float:
    """Milliseconds one token's weight products take through every block linear and the
    unembedding of ``module`` as it is (float32, 16- or 8-bit), best of ``repeats``: the floor
    under a typed token's forward pass, which reads every weight once."""
    layers = [m for m in module.modules() if isinstance(m, LowBitLinear)] + [lin for *_, lin in product_linears(module)]
    return _one_token_ms(layers, repeats)


def _one_token_ms(layers, repeats: int) -> float:
    """Best of ``repeats`` (after one warm-up), in ms, of one random row through every layer."""
    import time

    inputs = [torch.randn(1, layer.in_features) for layer in layers]
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            for layer, x in zip(layers, inputs, strict=True):
                layer(x)
            times.append((time.perf_counter() - start) * 1e3)
    return min(times[1:])


#: The float32 weight bytes :func:`product_speeds` times: past any CPU cache.
SPEED_SAMPLE_BYTES = 96 * 2**20

#: Smaller weights are used by "auto" when their products take at most this share of float32's.
AUTO_SPEEDUP = 0.85


def auto_precision(module: nn.Module, n_params: int, min_params: int) -> tuple[str, dict[str, float]]:
    """What precision "auto" means for ``module`` on this machine, and the speeds measured:
    float16 weights for a model of at least ``min_params`` parameters when their products are
    faster than float32's by at least 15 %, else float32. int8 is never chosen automatically:
    on SmolLM2 it agrees with float32's top token at 87 % of positions (docs/benchmarks.md), and
    a model that reads Chinese is no better served by a guess; it is a choice in the Model menu,
    shown with its measured agreement."""
    if n_params < min_params:
        return "float32", {}
    speeds = product_speeds(module)
    if speeds and speeds["float16"] <= AUTO_SPEEDUP * speeds["float32"]:
        return "float16", speeds
    return "float32", speeds


__all__ = ["AUTO_SPEEDUP", "Fp16Linear", "Int8Linear", "LowBitLinear", "OUTLIER_RATIO", "auto_precision",
           "exact_float32", "int8_layers", "product_speeds",
           "lowbit_layers", "lowbit_precision", "lowbit_steps", "product_linears", "to_float16", "to_int8", "token_products_ms",
           "weight_bytes_per_token"]
