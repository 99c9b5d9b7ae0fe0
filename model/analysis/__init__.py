"""Analyses of a model and its traces: knock-out, lens, head roles, step-through, analogies."""
