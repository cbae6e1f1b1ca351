"""The help-center knowledge base: chunking, embeddings and retrieval on Chroma."""
