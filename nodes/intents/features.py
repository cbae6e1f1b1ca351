"""What the intent model sees of a text: a WordLlama sentence embedding (meaning, shared
across phrasings), concepts shared by five languages (`concepts.py`), and hashed character
n-grams (spelling: typos, inflections, words the embedding knows less well). Each block is
unit length.

WordLlama's weights ship inside its wheel, so this runs offline; the model is loaded once
per process, on first use, under a lock.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
import zlib
from typing import Any

import numpy as np

from nodes.intents.concepts import concept_vector

EMBEDDING_DIM = 256
NGRAM_BUCKETS = 2 ** 13
NGRAM_SIZES = (3, 4, 5)
EMBEDDING_WEIGHT = 1.0
CONCEPT_WEIGHT = 1.0
"""How much the embedding and concept blocks count next to the n-gram block (all unit length)."""

_lock = threading.Lock()
_model: Any = None


def _wordllama() -> Any:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import wordllama
                from wordllama import WordLlama

                _model = WordLlama.load(cache_dir=os.path.dirname(wordllama.__file__),
                                        disable_download=True, dim=EMBEDDING_DIM)
    return _model


def fold(text: str) -> str:
    """Lower case without accents or punctuation runs: "¿Dónde está?" → "donde esta"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w]+", " ", plain).strip()


def _ngrams(folded: str) -> np.ndarray:
    vector = np.zeros(NGRAM_BUCKETS, dtype=np.float32)
    padded = f" {folded} "
    for n in NGRAM_SIZES:
        for i in range(len(padded) - n + 1):
            vector[zlib.crc32(padded[i:i + n].encode()) % NGRAM_BUCKETS] += 1.0
    for word in folded.split():  # whole words too, so short exact words count
        vector[zlib.crc32(b"w:" + word.encode()) % NGRAM_BUCKETS] += 1.0
    return _unit(vector)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def featurize(texts: list[str]) -> np.ndarray:
    """One row of features per text (float32, EMBEDDING_DIM + NGRAM_BUCKETS columns)."""
    folded = [fold(t) or "_" for t in texts]
    embedded = np.asarray(_wordllama().embed(folded, norm=True), dtype=np.float32)
    grams = np.stack([_ngrams(f) for f in folded])
    concepts = np.stack([concept_vector(f) for f in folded])
    return np.hstack([EMBEDDING_WEIGHT * embedded, CONCEPT_WEIGHT * concepts, grams])
