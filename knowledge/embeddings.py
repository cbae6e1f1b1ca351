"""Offline embeddings: WordLlama's weights ship inside its wheel, so nothing is downloaded.

The function is registered with Chroma under a name, so a collection created here
re-opens in any process with the same embedding function.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function


@lru_cache
def _wordllama(dim: int):
    import wordllama
    from wordllama import WordLlama

    package_dir = os.path.dirname(wordllama.__file__)
    return WordLlama.load(cache_dir=package_dir, disable_download=True, dim=dim)


@register_embedding_function
class WordLlamaEmbedding(EmbeddingFunction[Documents]):
    """WordLlama (l2_supercat) sentence embeddings, normalised for cosine distance."""

    def __init__(self, dim: int = 256):
        self.dim = dim

    def __call__(self, input: Documents) -> Embeddings:
        vectors = _wordllama(self.dim).embed(list(input), norm=True)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "switchboard-wordllama"

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaEmbedding:
        return WordLlamaEmbedding(dim=config.get("dim", 256))
