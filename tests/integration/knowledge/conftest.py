"""Knowledge-base fixtures: a fresh persistent Chroma collection per test, with an
embedding function that counts what it embeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graph.base.settings import Settings
from knowledge.base import open_collection
from knowledge.embeddings import WordLlamaEmbedding

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "knowledge"


class CountingEmbedding(WordLlamaEmbedding):
    """WordLlama that remembers every text it was asked to embed."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []

    def __call__(self, input):
        self.texts += list(input)
        return super().__call__(input)


@pytest.fixture
def kb_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)


@pytest.fixture
def kb(kb_settings):
    kb = open_collection(kb_settings)
    kb.embed = CountingEmbedding()
    return kb


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A writable copy of the fixture documents, one of each format."""
    folder = tmp_path / "docs"
    shutil.copytree(FIXTURES, folder)
    return folder
