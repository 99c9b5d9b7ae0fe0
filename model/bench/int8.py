"""8-bit weights: speed of the candidate kernels and fidelity on a real model.

``python -m model.bench.int8`` prints (1) one token through GPT-2 small's 48 block linears and
its 50,257 × 768 output matrix (random weights) with float32, torch's dynamic int8 (fbgemm)
and, when installed, torchao's int8 configs: median and p95 of 30 runs; (2) with
``--model smollm2`` (or any model name/folder), the fidelity of :func:`model.core.int8.to_int8`
against the same model's float32 path on held-out sentences (:mod:`model.analysis.fidelity`).
Pause other CPU work while measuring.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings

import torch

from model.core.int8 import Fp16Linear, _quantised_linear


def _timed(fn, n: int = 30) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return statistics.median(times), times[max(0, int(0.95 * n) - 1)]


def kernels(threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    d = 768
    shapes = [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)] * 12 + [(d, 50257)]
    layers = [torch.nn.Linear(i, o, bias=o != 50257).eval() for i, o in shapes]
    inputs = [torch.randn(1, i) for i, _ in shapes]

    def run(ls):
        with torch.inference_mode():
            for layer, x in zip(ls, inputs, strict=True):
                layer(x)

    print(f"one token through GPT-2 small's linears, {threads} thread(s): median / p95 ms")
    print(f"  float32             {'{:.1f} / {:.1f}'.format(*_timed(lambda: run(layers)))}")
    q = [_quantised_linear(layer.weight, layer.bias) for layer in layers]
    print(f"  int8 dynamic fbgemm {'{:.1f} / {:.1f}'.format(*_timed(lambda: run(q)))}")
    half = [Fp16Linear(layer) for layer in layers]
    print(f"  float16 weights fbgemm {'{:.1f} / {:.1f}'.format(*_timed(lambda: run(half)))}")
    try:
        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except ImportError:
        print("  torchao not installed")
        return
    for config in (Int8WeightOnlyConfig(), Int8DynamicActivationInt8WeightConfig()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seq = copy.deepcopy(torch.nn.Sequential(*layers))
            quantize_(seq, config)
        print(f"  torchao {type(config).__name__:<38} {'{:.1f} / {:.1f}'.format(*_timed(lambda s=seq: run(list(s))))}")


def fidelity(name: str) -> None:
    """The app's own conversion (TracingModel.precision_job: SmoothQuant calibration for int8)
    at 16 and 8 bits, against the same model's float32 path on the held-out sentences."""
    from model.core.int8 import weight_bytes_per_token
    from model.loading import load_tracing_model

    for precision in ("float16", "int8"):
        model = load_tracing_model(name, device="cpu")
        float_bytes = weight_bytes_per_token(model.module)
        start = time.perf_counter()
        for _ in model.precision_job(precision):
            pass
        seconds = time.perf_counter() - start
        print(f"{name} {precision}: {model.fidelity.summary()}; weights per token "
              f"{weight_bytes_per_token(model.module) / 1e6:.0f} MB (float32 {float_bytes / 1e6:.0f} MB); "
              f"conversion and measurement {seconds:.1f} s")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--model", help="also measure fidelity on this model (e.g. smollm2)")
    args = p.parse_args(argv)
    kernels(args.threads)
    if args.model:
        fidelity(args.model)


if __name__ == "__main__":
    main()
