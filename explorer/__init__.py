"""Attention Explorer's Qt app: a main window, one worker thread, and panels that draw a Trace."""
