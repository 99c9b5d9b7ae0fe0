"""Readers for models in other people's formats (Hugging Face folders: GPT-2, BERT; the
MiniLM package), each into the same traced :class:`~model.core.transformer.Transformer`."""
