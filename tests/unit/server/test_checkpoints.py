import logging
from types import SimpleNamespace

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graph.base.settings import CheckpointSettings, Settings
from server import checkpoints

PHONE = "447700900123"


class RecordingSaver(InMemorySaver):
    """A saver whose prune records its calls and fails for the threads in `failing`."""

    def __init__(self, failing=()):
        super().__init__()
        self.calls: list[tuple[list[str], str]] = []
        self.failing = set(failing)

    async def aprune(self, thread_ids, *, strategy="keep_latest"):
        self.calls.append((list(thread_ids), strategy))
        if self.failing & set(thread_ids):
            raise psycopg.errors.SerializationFailure("could not serialize access")


def conversations(saver, **checkpoint_settings):
    settings = Settings(_env_file=None, checkpoints=CheckpointSettings(**checkpoint_settings))
    return SimpleNamespace(graph=SimpleNamespace(checkpointer=saver),
                           services=SimpleNamespace(settings=settings), pool=None)


@pytest.fixture(autouse=True)
def opaque_threads(monkeypatch):
    monkeypatch.setattr(checkpoints, "thread_id", lambda key: f"wa:c_ref_of_{len(key)}")
    monkeypatch.setattr(checkpoints, "for_log", lambda key: "c_ref")


async def test_after_a_turn_the_thread_keeps_its_latest_checkpoint():
    saver = RecordingSaver()
    await checkpoints.after_turn(conversations(saver), PHONE)
    assert saver.calls == [(["wa:c_ref_of_12"], "keep_latest")]


async def test_pruning_after_each_turn_can_be_left_to_the_daily_prune():
    saver = RecordingSaver()
    await checkpoints.after_turn(conversations(saver, prune_after_turn=False), PHONE)
    assert saver.calls == []


async def test_a_refused_prune_is_one_warning_line_without_the_number(caplog):
    saver = RecordingSaver(failing=["wa:c_ref_of_12"])
    with caplog.at_level(logging.WARNING, logger="server.checkpoints"):
        await checkpoints.after_turn(conversations(saver), PHONE)  # does not raise: turn committed
    (record,) = caplog.records
    assert record.exc_info is None and "SerializationFailure" in record.getMessage()
    assert "c_ref" in record.getMessage() and PHONE not in record.getMessage()


async def test_the_daily_prune_skips_a_refused_thread_and_goes_on(caplog):
    saver = RecordingSaver(failing=["wa:b"])
    with caplog.at_level(logging.WARNING, logger="server.checkpoints"):
        pruned = await checkpoints.prune_checkpoint_history(saver, None, ["wa:a", "wa:b", "wa:c"])
    assert pruned == checkpoints.Pruned(threads=2, failed=1)
    assert [threads for threads, _ in saver.calls] == [["wa:a"], ["wa:b"], ["wa:c"]]
    (record,) = caplog.records
    assert "1 thread(s)" in record.getMessage() and "SerializationFailure x1" in record.getMessage()


async def test_a_graph_without_a_checkpointer_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no checkpointer"):
        await checkpoints.after_turn(conversations(None), PHONE)
