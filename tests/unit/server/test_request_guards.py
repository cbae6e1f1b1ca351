"""The request guards: strict webhook JSON, storable text, and what is refused before routing."""

import json

import psycopg
import pytest

from server import request_guards as guards
from server.request_guards import BadJson, load_json


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
    (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "nests deeper"),
    (b'{"a": 1, "a": 2}', "repeats a key"),
    (b'{"a": {"b": 1, "b": 1}}', "repeats a key"),
    (b'{"a": NaN}', "NaN"), (b'{"a": -Infinity}', "-Infinity"),
    (b'{"a": 1e999}', "out of range"), (b'{"a": ' + b"9" * 5000 + b"}", "not JSON"),
    (b'{"a": "\xff"}', "not UTF-8"), (json.dumps({"a": 1}).encode("utf-16"), "not UTF-8"),
    (b"\xef\xbb\xbf{}", "not JSON"), (b"", "not JSON"), (b'{"a": 1', "not JSON"),
])
def test_strict_json_refuses(body, reason):
    with pytest.raises(BadJson, match=reason):
        load_json(body)


def test_strict_json_accepts_what_meta_sends():
    assert load_json(b'{"a": [1, 2.5, "\\u00e9\\ud83d\\ude00"], "b": null, "c": true}') == {
        "a": [1, 2.5, "\u00e9\U0001F600"], "b": None, "c": True}
    nested = b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}"
    assert guards.depth(load_json(nested)) == 64


def test_storable_replaces_nul_and_lone_surrogates_in_keys_and_values():
    value = {"k\x00": ["a\ud800", {"b": "\udfffc"}], "n": 1}
    assert guards.storable(value) == {"k\ufffd": ["a\ufffd", {"b": "\ufffdc"}], "n": 1}
    assert guards.has_unstorable(value) and not guards.has_unstorable(guards.storable(value))
    assert guards.is_storable("emoji \U0001F600 and é")


def scope(path="/x", query=b"", headers=()):
    return {"type": "http", "path": path, "query_string": query, "headers": list(headers)}


@pytest.mark.parametrize(("request_scope", "status"), [
    (scope("/console/c/\x00"), 400), (scope("/c/\ud800"), 400), (scope(query=b"a=%00"), 400),
    (scope(query=b"a=\x00"), 400), (scope(headers=[(b"x", b"a\x00")]), 400),
    (scope(headers=[(b"cookie", b"a" * 40_000)]), 431),
    (scope(headers=[(b"content-length", b"4000")]), 413),
    (scope(headers=[(b"content-length", b"9" * 5000)]), 413),
])
def test_requests_refused_before_routing(request_scope, status):
    assert guards.request_problem(request_scope, max_body_bytes=1000)[0] == status


@pytest.mark.parametrize("request_scope", [
    scope("/console/c/abc", b"state=AGENT&q=%C3%A9"), scope(headers=[(b"content-length", b"1000")]),
    scope("/caf\u00e9", b"a=%ED%A0%80"),  # Starlette decodes that query with replacement
])
def test_ordinary_requests_pass(request_scope):
    assert guards.request_problem(request_scope, max_body_bytes=1000) is None


def test_only_unstorable_text_errors_become_400():
    assert guards._is_unstorable_text(psycopg.DataError(
        "PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    assert guards._is_unstorable_text(UnicodeEncodeError("utf-8", "\ud800", 0, 1,
                                                         "surrogates not allowed"))
    assert not guards._is_unstorable_text(psycopg.DataError("division by zero"))
    assert not guards._is_unstorable_text(UnicodeEncodeError("ascii", "é", 0, 1,
                                                             "ordinal not in range(128)"))


def guarded_app():
    """A small app with the guards installed, and routes that fail the ways a forgotten
    boundary check would (the last-resort handler) or as a genuine bug would."""
    from typing import Annotated

    from fastapi import FastAPI, Form

    app = FastAPI()
    guards.install(app, max_body_bytes=10_000)

    @app.post("/form")
    async def form(text: Annotated[str, Form()] = "") -> dict:
        return {"text": text}

    @app.get("/fails/{how}")
    async def fails(how: str) -> dict:
        if how == "nul":
            raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        if how == "surrogate":
            "\ud800".encode()
        raise psycopg.DataError("numeric field overflow")  # a bug of ours, not the caller's
    return app


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    ("POST", "/form", {"data": {"text": "a\x00b"}}, 400),
    ("POST", "/form", {"data": {"te\x00xt": "ab"}}, 400),
    ("POST", "/form", {"files": {"text": (None, "a\x00b")}}, 400),
    ("POST", "/form", {"data": {"text": "fine"}}, 200),
    ("POST", "/form", {"json": {"text": "a\ud800"}}, 400),
    ("GET", "/fails/nul", {}, 400), ("GET", "/fails/surrogate", {}, 400),
    ("GET", "/fails/bug", {}, 500),
])
async def test_guards_installed_on_an_app(method, url, kwargs, status):
    import httpx

    if "json" in kwargs:  # httpx would refuse to encode a lone surrogate itself
        kwargs = {"content": json.dumps(kwargs["json"]).encode(),
                  "headers": {"content-type": "application/json"}}
    transport = httpx.ASGITransport(app=guarded_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.request(method, url, **kwargs)
    assert response.status_code == status, response.text
