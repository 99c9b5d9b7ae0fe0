"""The model thread's work: requests and their handlers."""
