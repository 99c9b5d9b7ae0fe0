"""Panels: small widgets that each draw a Trace (``set_trace``) and never call the model."""
