"""Text to Trace: the torch tracer (TracingModel), the NumPy first-trace path, generation."""
