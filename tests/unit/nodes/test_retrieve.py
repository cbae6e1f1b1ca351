from langchain_core.messages import HumanMessage

from graph.state import State
from nodes.retrieve import retrieve


class RecordingKnowledge:
    """Stands in for the knowledge base and remembers how it was searched."""

    def __init__(self):
        self.calls: list[dict] = []

    async def search(self, query, k=4, where=None):
        self.calls.append({"query": query, "k": k, "where": where})
        return []


async def test_retrieve_filters_by_the_configured_locale(runtime):
    rt = runtime(knowledge_locale="fr", retrieval_k=6)
    rt.context.services.knowledge = knowledge = RecordingKnowledge()
    assert await retrieve(State(messages=[HumanMessage("remboursement ?")]), rt) == {"passages": []}
    assert knowledge.calls == [{"query": "remboursement ?", "k": 6, "where": {"locale": "fr"}}]


async def test_retrieve_searches_every_locale_by_default(runtime):
    rt = runtime()
    rt.context.services.knowledge = knowledge = RecordingKnowledge()
    await retrieve(State(messages=[HumanMessage("refunds?")]), rt)
    assert knowledge.calls[0]["where"] is None
