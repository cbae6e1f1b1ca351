"""Opaque conversation ids: the HMAC rule, computed from the stored pads."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from graph.base.conversation import ConversationId
from server import conversation_ids


def test_the_pads_compute_hmac_sha256():
    secret = bytes(range(32))
    for key in ("447700900101", "bsuid:US.abc", "ünïcode"):
        expected = hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:20]
        assert conversation_ids.ref_with(conversation_ids.hmac_pads(secret), key) == "c_" + expected


def test_refs_have_one_shape_and_phone_numbers_do_not():
    ref = conversation_ids.ref_with(conversation_ids.hmac_pads(b"s" * 32), "447700900101")
    assert conversation_ids.is_ref(ref) and "447700900101" not in ref
    for other in ("447700900101", "c_" + "0" * 19, "c_" + "G" * 20, ref + "0", ref.upper(), ""):
        assert not conversation_ids.is_ref(other)


def test_a_different_secret_gives_an_unrelated_ref():
    key = "447700900101"
    first = conversation_ids.ref_with(conversation_ids.hmac_pads(b"a" * 32), key)
    assert first != conversation_ids.ref_with(conversation_ids.hmac_pads(b"b" * 32), key)
    assert first != "c_" + hashlib.sha256(key.encode()).hexdigest()[:20]


def test_log_lines_never_show_the_key(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", None)
    assert conversation_ids.for_log("447700900101") == conversation_ids.UNSET
    with pytest.raises(RuntimeError):
        conversation_ids.ref("447700900101")
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"k" * 32))
    assert conversation_ids.for_log("447700900101") == conversation_ids.ref("447700900101")


def test_the_thread_is_named_by_the_ref_so_checkpoints_hold_no_number(monkeypatch):
    monkeypatch.setattr(conversation_ids, "_pads", None)
    with pytest.raises(RuntimeError):  # never a thread named by a placeholder shared by all
        conversation_ids.thread_id(ConversationId("447700900101"))
    monkeypatch.setattr(conversation_ids, "_pads", conversation_ids.hmac_pads(b"k" * 32))
    for key in ("447700900101", "bsuid:US.13491208655302741918"):
        thread = conversation_ids.thread_id(ConversationId(key))
        assert thread == "wa:" + conversation_ids.ref(key)
        assert key not in thread and key.removeprefix("bsuid:") not in thread
    assert conversation_ids.thread_id(ConversationId("447700900101")) != conversation_ids.thread_id(
        ConversationId("447700900102"))
