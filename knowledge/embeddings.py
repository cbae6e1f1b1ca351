"""Embedding functions: offline WordLlama by default (its weights ship inside its wheel, so
nothing is downloaded), or an OpenAI-compatible endpoint when one is configured.

Each function is registered with Chroma under a name, so a collection created here
re-opens in any process with the same embedding function.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from pydantic import SecretStr

if TYPE_CHECKING:
    from graph.base.settings import Settings


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

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaEmbedding:
        return WordLlamaEmbedding(dim=config.get("dim", 256))

    @property
    def model_id(self) -> str:
        """What is recorded in the collection; a different id means re-embedding."""
        return f"wordllama-l2_supercat-{self.dim}"


@register_embedding_function
class OpenAICompatibleEmbedding(EmbeddingFunction[Documents]):
    """Any OpenAI-compatible /embeddings endpoint (OpenAI, vLLM, Ollama, LiteLLM).

    The key is read from settings or the environment when the function is rebuilt from
    config in a new process; it is never written into the collection's configuration.
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None):
        self.model, self.base_url, self._api_key = model, base_url, api_key

    @property
    def _client(self):
        from langchain_openai import OpenAIEmbeddings

        key = self._api_key or os.environ.get("EMBEDDINGS__API_KEY") or "unset"
        return OpenAIEmbeddings(model=self.model, base_url=self.base_url, api_key=SecretStr(key),
                                check_embedding_ctx_length=False)

    def __call__(self, input: Documents) -> Embeddings:
        vectors = self._client.embed_documents(list(input))
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "switchboard-openai-compatible"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAICompatibleEmbedding:
        return OpenAICompatibleEmbedding(config["model"], config.get("base_url"))

    @property
    def model_id(self) -> str:
        return f"openai:{self.model}@{self.base_url or 'api.openai.com'}"


def embedding_function(settings: Settings) -> WordLlamaEmbedding | OpenAICompatibleEmbedding:
    """The configured embeddings: an endpoint when EMBEDDINGS__MODEL is set, else offline."""
    config = settings.embeddings
    if not config.model:
        return WordLlamaEmbedding()
    key = config.api_key.get_secret_value() if config.api_key else None
    return OpenAICompatibleEmbedding(config.model, config.base_url, key)
