"""`switchboard templates list | check` as real processes against the fake Cloud API served over
HTTP (its message_templates list, paged as Meta pages it, and its error answers), and a bad
catalogue refusing `serve` and `worker` in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.outbox.templates_catalog import load
from server.simulator import FakeCloudApi

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[3]
TOKEN = "EAAG-not-the-simulators-token-0123456789"
WABA = "300000000000042"


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("META__", "TEMPLATES__"))}
    return subprocess.run(CLI + args, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**clean, "DATA_DIR": str(tmp_path), "COLUMNS": "200", "TERM": "dumb", **env})


@pytest.fixture
def meta():
    """The fake Cloud API, with the bundled catalogue's templates approved on its account."""
    with FakeCloudApi("app-secret", None, access_token=TOKEN, waba_id=WABA) as fake:
        for t in load():
            fake.templates.add(t.name, t.language, t.example, category=t.category.upper())
        yield fake


def check(meta: FakeCloudApi, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return run(["templates", "check"], tmp_path, **{
        "META__ACCESS_TOKEN": TOKEN, "META__WABA_ID": WABA, "META__GRAPH_URL": str(meta.url), **env})


def one_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_list_shows_the_catalogue(tmp_path):
    result = run(["templates", "list"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "order_shipped_v1" in result.stdout and "pt_PT" in result.stdout
    assert "order_number, delivery_date" in result.stdout


def test_a_matching_account_over_several_pages_is_exit_0(meta, tmp_path):
    for i in range(130):  # rejected ones, not in the catalogue: they need no entry
        meta.templates.add(f"old_campaign_{i}", "en", "Old", status="REJECTED", category="MARKETING")
    result = check(meta, tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "All 15 catalogue templates match Meta's (145 templates listed)." in result.stdout
    assert [r.get("after") is not None for r in meta.templates.requests] == [False, True]
    assert meta.templates.requests[0]["fields"] == "name,language,status,category,components"


def test_every_difference_is_reported_with_exit_1(meta, tmp_path):
    account = meta.templates.templates
    account[:] = [t for t in account if (t["name"], t["language"]) != ("refund_issued_v1", "de")]
    for t in account:
        if (t["name"], t["language"]) == ("order_update_v1", "fr"):
            t["status"] = "PAUSED"
        if (t["name"], t["language"]) == ("order_update_v1", "es"):
            t["category"] = "MARKETING"
        if (t["name"], t["language"]) == ("order_shipped_v1", "en"):
            t["components"] = [{"type": "BODY", "text": "Order {{order_number}} has shipped."}]
    meta.templates.add("spring_offer_v1", "en", "Spring is here", category="MARKETING")
    result = check(meta, tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    out = " ".join(result.stdout.split())
    for expected in ("missing_from_meta │ refund_issued_v1 │ de", "not_approved │ order_update_v1 │ fr │ status PAUSED",
                     "category_mismatch │ order_update_v1 │ es │ catalogue says utility, Meta says marketing",
                     "parameter_mismatch │ order_shipped_v1 │ en │ catalogue has 2 (order_number, delivery_date),"
                     " Meta has 1 (order_number)", "missing_from_catalogue │ spring_offer_v1 │ en"):
        assert expected in out, out
    assert "5 differences" in out


@pytest.mark.parametrize(("status", "code", "said"), [(500, 1, "answered 500"), (400, 100, "answered 400")])
def test_an_error_answer_is_one_line_and_exit_1(meta, tmp_path, status, code, said):
    meta.templates.fail_next(status, code)
    line = one_line(result := check(meta, tmp_path))
    assert result.returncode == 1 and line.startswith("cannot check the templates: the Cloud API") and said in line
    assert f"(code {code})" in line and TOKEN not in result.stdout + result.stderr


def test_a_wrong_token_or_no_server_is_one_line_and_exit_1(meta, tmp_path):
    line = one_line(result := check(meta, tmp_path, META__ACCESS_TOKEN="EAAG-wrong-token"))
    assert result.returncode == 1 and "answered 401" in line and "(code 190)" in line
    line = one_line(result := check(meta, tmp_path, META__GRAPH_URL="http://127.0.0.1:9"))
    assert result.returncode == 1 and "cannot reach the Cloud API at 127.0.0.1:9" in line


@pytest.mark.parametrize(("env", "said"), [
    ({}, "needs a Meta access token"),
    ({"META__ACCESS_TOKEN": TOKEN}, "set META__WABA_ID"),
    ({"META__ACCESS_TOKEN": "simulator-access-token", "META__WABA_ID": WABA}, "needs a Meta access token"),
    ({"META__ACCESS_TOKEN": TOKEN, "META__WABA_ID": WABA, "META__GRAPH_URL": "http://graph.example.com"},
     "META__GRAPH_URL must be https"),
])
def test_no_token_or_account_is_one_line_and_exit_2(tmp_path, env, said):
    result = run(["templates", "check"], tmp_path, **env)
    assert result.returncode == 2 and said in one_line(result)


@pytest.mark.parametrize("command", [["templates", "check"], ["templates", "list"], ["serve"], ["worker"]])
def test_a_bad_catalogue_refuses_in_one_line_naming_the_file(tmp_path, command):
    bad = tmp_path / "templates.toml"
    bad.write_text('[[template]]\nname = "hello_v1"\nlanguage = "en"\ncategory = "promo"\nexample = "Hi"\n',
                   encoding="utf-8")
    result = run(command, tmp_path, TEMPLATES__FILE=str(bad))
    line = one_line(result)
    assert result.returncode == 2, result.stderr
    assert f"template catalogue {bad}: template 1 (hello_v1, en): category: must be one of" in line


async def test_the_fake_refuses_a_template_it_does_not_have_as_meta_does(meta):
    async with httpx.AsyncClient(base_url=str(meta.url), headers={"authorization": f"Bearer {TOKEN}"}) as http:
        async def send(template: dict) -> httpx.Response:
            return await http.post(f"/v23.0/{meta.phone_number_id}/messages", json={
                "messaging_product": "whatsapp", "to": "447000000001", "type": "template", "template": template})

        unknown = await send({"name": "order_update_v1", "language": {"code": "it"}})
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == 132001
        short = await send({"name": "order_shipped_v1", "language": {"code": "en"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "HP-1"}]}]})
        assert short.json()["error"]["code"] == 132000
        assert (await send({"name": "order_update_v1", "language": {"code": "en"}})).status_code == 200
