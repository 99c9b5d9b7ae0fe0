"""The source documents' worked examples and the lesson models built from them."""
