"""The core: config, tokenizer, the Transformer, the Trace, weights, validation."""
