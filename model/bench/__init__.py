"""Benchmarks (python -m model.bench.forward, .memory, .probes, .hf); not used by the app."""
