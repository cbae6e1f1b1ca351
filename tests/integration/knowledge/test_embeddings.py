"""The OpenAI-compatible embedding option against a real local HTTP endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from graph.base.settings import EmbeddingSettings
from knowledge.base import open_collection
from knowledge.embeddings import OpenAICompatibleEmbedding, embedding_function
from knowledge.evaluation import doc_stem
from knowledge.ingest import ingest

pytestmark = pytest.mark.integration


@pytest.fixture
def embeddings_endpoint():
    """An /embeddings endpoint that maps each text to a vector of its letter counts."""
    seen: list[dict] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append({"path": self.path, "auth": self.headers.get("authorization"), **request})
            texts = request["input"]
            data = [{"object": "embedding", "index": i,
                     "embedding": [float(str(t).lower().count(c)) + 0.01 for c in "etaoinshrdlu"]}
                    for i, t in enumerate(texts)]
            body = json.dumps({"object": "list", "data": data, "model": request["model"],
                               "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()


def test_settings_choose_the_endpoint_and_it_embeds_ingest_and_queries(kb_settings, embeddings_endpoint):
    from tests.integration.knowledge.conftest import FIXTURES

    base_url, seen = embeddings_endpoint
    settings = kb_settings.model_copy(update={"embeddings": EmbeddingSettings(
        model="tiny-embed", base_url=base_url, api_key="sk-test")})
    assert isinstance(embedding_function(settings), OpenAICompatibleEmbedding)
    kb = open_collection(settings)
    report = ingest(kb, [str(FIXTURES / "care-guide.md")])
    assert report.embedded == 3 and seen[0]["model"] == "tiny-embed"
    assert seen[0]["path"] == "/v1/embeddings" and seen[0]["auth"] == "Bearer sk-test"
    assert {doc_stem(p["id"]) for p in kb.search_sync("velvet sofa", 2, mode="dense")} == {"care-guide"}
    assert kb.collection.metadata["embedding_model"] == f"openai:tiny-embed@{base_url}"


def test_the_endpoint_function_rebuilds_from_its_config_without_the_key():
    original = OpenAICompatibleEmbedding("m", "http://x/v1", api_key="secret")
    assert "secret" not in json.dumps(original.get_config())
    rebuilt = OpenAICompatibleEmbedding.build_from_config(original.get_config())
    assert (rebuilt.model, rebuilt.base_url, rebuilt.model_id) == ("m", "http://x/v1", original.model_id)
