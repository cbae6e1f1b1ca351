"""Attacks on `switchboard ingest`: URLs aimed at the server's own network, redirects, gzip
bombs, wrong content types, huge bodies, symlinks out of the folder, hostile document links.

The servers are real HTTP servers on free local ports. Because they listen on 127.0.0.1,
each SSRF case is shown both ways: refused without --allow-private, fetched with it."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from graph.base.settings import Settings
from knowledge.base import open_collection
from knowledge.chunking import Chunk
from knowledge.fetch import FetchPolicy
from knowledge.ingest import ingest
from tests.fakes import ScriptedChatModel, reply
from tests.integration.server.conftest import text_message
from tests.integration.server.console.conftest import console_for, new_phone, ref_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
DOC = b"---\ntitle: Delivery\n---\n\n## Cut-off\n\nOrder before 2pm for next-day delivery.\n"
PRIVATE = FetchPolicy(allow_private=True)


def gzip_bomb(mebibytes: int = 800) -> bytes:
    """About 0.8 MB of gzip that expands to `mebibytes` MiB of zeros (full-flushed blocks
    repeat byte for byte, so the bomb is built without compressing 800 MiB)."""
    zeros = b"\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * mebibytes + end
            + struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF))


class Site:
    """A local web server whose answers a test sets per path; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                site.hits.append(self.path)
                status, headers, body, pause = site.routes.get(self.path, (404, {}, b"", 0.0))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.flush()
                time.sleep(pause)  # a body that is slow to come: refusing must not wait for it
                with contextlib.suppress(OSError):  # the client hung up, as it should have
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, path: str, body: bytes = DOC, content_type: str = "text/markdown",
              status: int = 200, pause: float = 0.0, **headers: str) -> str:
        self.routes[path] = (status, {"Content-Type": content_type, **{
            k.replace("_", "-"): v for k, v in headers.items()}}, body, pause)
        return self.base + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = (status, {"Location": location, "Content-Length": "0"}, b"", 0.0)
        return self.base + path


@pytest.fixture
def site():
    site = Site()
    yield site
    site.server.shutdown()


@pytest.fixture
def kb(tmp_path):
    return open_collection(Settings(data_dir=tmp_path / "data", _env_file=None))


LOOPBACK = "loopback address; pass --allow-private to allow it"


@pytest.mark.parametrize("spelling, why", [
    ("http://127.0.0.1:{port}/doc.md", LOOPBACK), ("http://localhost:{port}/doc.md", LOOPBACK),
    ("HTTP://LOCALHOST:{port}/doc.md", LOOPBACK), ("http://2130706433:{port}/doc.md", LOOPBACK),
    ("http://0x7f.1:{port}/doc.md", LOOPBACK), ("http://127.1:{port}/doc.md", LOOPBACK),
    ("http://[::ffff:127.0.0.1]:{port}/doc.md", LOOPBACK), ("http://[::1]:{port}/doc.md", LOOPBACK),
    ("http://0.0.0.0:{port}/doc.md", "unspecified address"),
    ("http://0177.0.0.1:{port}/doc.md", "not a valid URL"),  # octal: refused as unparseable
])
def test_loopback_in_any_spelling_is_refused_and_nothing_is_written(kb, site, spelling, why):
    site.serve("/doc.md")
    report = ingest(kb, [spelling.format(port=site.port)], allowed_hosts=[])
    assert report.refused and report.files == 0 and why in report.errors[0][1]
    assert site.hits == [] and kb.collection.count() == 0  # no request, no chunk


def test_with_allow_private_the_same_server_is_fetched(kb, site):
    url = site.serve("/doc.md")
    report = ingest(kb, [url], policy=PRIVATE, allowed_hosts=[])
    assert (report.files, report.errors, site.hits) == (1, [], ["/doc.md"])
    assert report.fetched == [(url, url)] and kb.collection.count() == 1


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one decimal number
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
])
def test_a_redirect_to_cloud_metadata_is_refused_even_with_allow_private(kb, site, target):
    url = site.redirect("/help.md", target)
    report = ingest(kb, [url], policy=PRIVATE, allowed_hosts=[])
    assert report.files == 0 and report.errors[0][0] == url
    assert "cloud metadata" in report.errors[0][1] and kb.collection.count() == 0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL",
                                    "ftp://127.0.0.1/doc.md", "javascript:alert(1)"])
def test_a_redirect_off_http_is_refused(kb, site, target):
    report = ingest(kb, [site.redirect("/help.md", target, 301)], policy=PRIVATE, allowed_hosts=[])
    assert report.files == 0 and "only http and https" in report.errors[0][1]


def test_redirects_are_followed_a_few_times_and_the_final_url_reported(kb, site):
    final = site.serve("/new/doc.md")
    hops = [site.redirect(f"/hop{i}", f"/hop{i + 1}" if i < 4 else "/new/doc.md") for i in range(5)]
    report = ingest(kb, [hops[0]], policy=PRIVATE, allowed_hosts=[])
    assert report.files == 1 and report.fetched == [(hops[0], final)]
    loop = site.redirect("/loop", "/loop", 307)
    report = ingest(kb, [loop], policy=PRIVATE, allowed_hosts=[])
    assert report.errors == [(loop, "refused: more than 5 redirects")]
    assert site.hits.count("/loop") == 6


def test_a_gzip_bomb_stops_at_the_cap_without_filling_memory(kb, site):
    bomb = gzip_bomb()  # 0.8 MB that is 800 MiB once decompressed
    url = site.serve("/bomb.md", bomb, Content_Encoding="gzip", Content_Length=str(len(bomb)))
    tracemalloc.start()
    try:
        report = ingest(kb, [url], policy=PRIVATE, allowed_hosts=[])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.errors == [(url, "refused: larger than 20 MB once decompressed "
                                   "(raise --max-download-mb to allow it)")]
    assert peak < 80_000_000 and kb.collection.count() == 0


@pytest.mark.parametrize("encoding, body, message", [
    ("deflate", zlib.compress(b"\0" * 30_000_000, 9), "larger than 20 MB"),
    ("gzip, gzip", b"", "content encoding 'gzip, gzip' is not supported"),
    ("br", b"", "content encoding 'br' is not supported"),
    ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff", "compressed body is corrupt"),
    ("gzip", gzip_bomb(2)[:-8], "compressed body ended early"),  # no trailer
])
def test_other_encodings_are_capped_or_refused(kb, site, encoding, body, message):
    url = site.serve("/doc.md", body, Content_Encoding=encoding)
    report = ingest(kb, [url], policy=PRIVATE, allowed_hosts=[])
    assert report.files == 0 and message in report.errors[0][1]


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_cap_is_refused_declared_or_streamed(kb, site, declared):
    body = DOC + b"x" * 50_000
    url = site.serve("/big.md", body, **({"Content_Length": str(len(body))} if declared else {}))
    report = ingest(kb, [url], policy=FetchPolicy(allow_private=True, max_bytes=10_000), allowed_hosts=[])
    assert report.errors == [(url, "refused: larger than 0.01 MB once decompressed "
                                   "(raise --max-download-mb to allow it)")]


@pytest.mark.parametrize("path, content_type", [
    ("/doc.md", "image/png"), ("/setup.exe", "application/octet-stream"),
    ("/app.js", "text/javascript"), ("/doc.md", "application/x-msdownload"),
])
def test_a_type_ingest_does_not_read_is_refused_before_the_body(kb, site, path, content_type):
    url = site.serve(path, b"MZ" + b"\0" * 1000, content_type, pause=5.0)
    started = time.monotonic()
    report = ingest(kb, [url], policy=PRIVATE, allowed_hosts=[])
    assert time.monotonic() - started < 4  # it did not wait for the (slow) body
    assert report.errors == [(url, f"refused: content type {content_type} is not one ingest reads")]


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "javascript:alert(1)", "ftp://example.com/doc.md",
                                 "gopher://127.0.0.1:6379/_INFO", "data:text/markdown,hi"])
def test_a_non_http_input_stops_the_whole_run_before_anything_is_written(kb, tmp_path, bad):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "delivery.md").write_bytes(DOC)
    report = ingest(kb, [str(folder), bad], allowed_hosts=[])
    assert report.refused and report.errors[0][0] == bad and "only http and https" in report.errors[0][1]
    assert kb.collection.count() == 0  # the good folder was not half-ingested either


def test_symlinks_out_of_the_folder_are_skipped_with_a_warning(kb, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Keys\n\nTOP SECRET deploy key.\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "delivery.md").write_bytes(DOC)
    (folder / "leak.md").symlink_to(outside / "secret.md")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "more").symlink_to(outside, target_is_directory=True)
    (folder / "again.md").symlink_to(folder / "delivery.md")  # inside: read once, as itself
    report = ingest(kb, [str(folder)], allowed_hosts=[])
    skipped = dict(report.skipped)
    assert set(skipped) == {str(folder / "leak.md"), str(folder / "passwd.txt"), str(folder / "more")}
    assert all("outside" in reason for reason in skipped.values())
    assert report.errors == [] and report.files == 1
    stored = " ".join(kb.collection.get()["documents"])
    assert "TOP SECRET" not in stored and "root:" not in stored


def test_a_fifo_in_the_folder_does_not_hang_ingest(kb, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "delivery.md").write_bytes(DOC)
    os.mkfifo(folder / "pipe.md")
    started = time.monotonic()
    report = ingest(kb, [str(folder), str(folder / "pipe.md")], allowed_hosts=[])
    assert time.monotonic() - started < 10 and report.files == 1
    assert report.errors == [(str(folder / "pipe.md"), "not a regular file")]


@pytest.mark.parametrize("url", [
    "javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>",
    "https://evil.example/phish", "HTTPS://EVIL.EXAMPLE/phish",
    "https://help.harborandpine.example@evil.example/login", "//evil.example/x",
    "https://help.harborandpine.example:8443/refunds", "https://help.harborandpine.example.evil.example/",
])
def test_a_document_link_off_the_allow_list_is_dropped_with_one_warning(kb, tmp_path, caplog, url):
    doc = tmp_path / "refunds.md"
    doc.write_text(f"---\ntitle: Refunds\nurl: {url}\n---\n\n## Timing\n\nFive days.\n\n## Cards\n\nSame card.\n")
    report = ingest(kb, [str(doc)], allowed_hosts=["help.harborandpine.example"])
    assert report.files == 1
    assert {m["url"] for m in kb.collection.get(include=["metadatas"])["metadatas"]} == {""}
    assert len([r for r in caplog.records if r.name == "knowledge.ingest"]) == 1


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", "ingest", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "DATA_DIR": str(data_dir), "COLUMNS": "80", "TERM": "dumb"})


def test_the_cli_refuses_a_private_url_with_one_line_and_exit_2(site, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "delivery.md").write_bytes(DOC)
    url = site.serve("/doc.md")
    refused = _cli(str(folder), url, "--recreate", data_dir=tmp_path / "data")
    assert refused.returncode == 2 and site.hits == []
    assert f"error {url}: refused: 127.0.0.1 is a loopback address; pass --allow-private to allow it" \
        in refused.stdout.splitlines()
    assert "Nothing was ingested." in refused.stdout and "Traceback" not in refused.stderr


def test_the_cli_with_allow_private_follows_redirects_and_prints_the_final_url(site, tmp_path):
    final = site.serve("/docs/delivery.md")
    start = site.redirect("/old", "/docs/delivery.md", 301)
    done = _cli(start, "--allow-private", data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"fetched {final} (asked for {start})" in done.stdout.splitlines()
    big = site.serve("/docs/big.md", DOC + b"x" * 5_000)
    capped = _cli(big, "--allow-private", "--max-download-mb", "0.001", data_dir=tmp_path / "data")
    assert capped.returncode == 1 and "refused: larger than 0.001 MB" in capped.stdout


async def test_the_console_never_makes_a_javascript_citation_clickable(start_server):
    """A chunk stored before this defence (or by a path around ingest) carries a javascript:
    URL; the handoff lists it as a citation; the console shows it as text, never as a link."""
    # repeat_last: a turn retried under load asks the model again. The model reads a wish for a
    # person, so the bot hands off at once rather than asking to clarify first.
    agent = ScriptedChatModel(steps=[reply("Let me bring in a colleague.", intent="human_request",
                                           handoff=True, confidence=0.1)], repeat_last=True)
    server = await start_server(server_options={"agent_model": agent})
    kb = server.parts.core.services.knowledge
    marker = f"zebra{uuid.uuid4().hex[:6]}"
    chunk = Chunk(id=f"{marker}#hinges", text=f"Realign {marker} wardrobe hinges with a screwdriver.",
                  title=f"{marker} wardrobe", section="Hinges", url="JaVaScRiPt:alert(document.cookie)",
                  locale="en", updated_at="", source=f"/attack/{marker}.md", anchor="hinges")
    kb.upsert([chunk])
    try:
        phone = new_phone()
        await server.post_meta(text_message(phone, f"how do I realign my {marker} wardrobe hinges?"))
        rows = await server.wait_for("SELECT state FROM desk_conversations WHERE key = %s"
                                     " AND state = 'PENDING_AGENT'", phone, within_s=30)
        assert rows, "the bot did not hand the conversation off"
        console = await console_for(server)
        page = (await console.http.get(f"/console/c/{await ref_for(server, phone)}")).text
        await console.aclose()
    finally:
        kb.delete([chunk.id])
    assert "alert(document.cookie)" in page  # shown, as text
    assert 'href="javascript' not in page.lower() and "href='javascript" not in page.lower()
