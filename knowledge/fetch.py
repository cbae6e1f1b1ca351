"""Downloading a document for ingest without letting the URL turn the server against itself.

- http(s) only; redirects are followed here, one hop at a time (at most `max_redirects`),
  and each hop is checked like the first.
- Every connection goes through `GuardedBackend`, which resolves the host and refuses it if
  any of its addresses is not public (knowledge.addresses). The socket is opened to the very
  address that was checked, so a DNS answer that changes between check and connect
  (rebinding) cannot slip through; TLS still verifies the certificate for the host name.
- The content type is checked before the body is read, and the body is streamed and
  decompressed here with a cap on the decoded bytes, so a gzip bomb stops at the cap.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

from knowledge.addresses import BlockedAddress, resolve

REDIRECTS = (301, 302, 303, 307, 308)
OCTET_STREAM = ("", "application/octet-stream", "binary/octet-stream")


class FetchRefused(Exception):
    """The download was refused or failed; the message is one line a person can act on."""


@dataclass(frozen=True)
class FetchPolicy:
    """What ingest may fetch: address ranges, size and redirects (guards against SSRF)."""

    allow_private: bool = False
    """Let URLs reach private, loopback and link-local addresses (never cloud metadata)."""
    max_bytes: int = 20_000_000
    """Largest body, counted after decompression."""
    max_redirects: int = 5
    timeout_s: float = 20.0
    """Per connect and per read; the whole download may take three times this."""


@dataclass(frozen=True)
class Fetched:
    """A fetched document: its bytes, media type and final URL."""

    content: bytes
    media_type: str
    url: str
    """The final URL, after redirects."""


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sockets, opened only to checked addresses."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private, self._sockets = allow_private, httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        error: Exception | None = None
        for address in resolve(host, port, self.allow_private):
            try:
                return self._sockets.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as failed:  # try the host's next address
                error = failed
        raise error or httpcore.ConnectError(f"cannot connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise BlockedAddress("refused: unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


def check_url(url: str) -> httpx.URL:
    """The URL parsed, if it is one ingest may fetch at all."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise FetchRefused(f"not a valid URL ({error})") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"refused: only http and https URLs are fetched, not {parsed.scheme or 'this'}")
    if not parsed.host:
        raise FetchRefused("not a valid URL (no host)")
    if parsed.userinfo:
        raise FetchRefused("refused: URLs with a user name or password are not fetched")
    return parsed


def fetch(url: str, policy: FetchPolicy, accepts: Callable[[str, str], bool]) -> Fetched:
    """GET `url` within `policy`; `accepts(media_type, url)` says whether to read the body."""
    target, deadline = check_url(url), time.monotonic() + 3 * policy.timeout_s
    timeouts = {"connect": policy.timeout_s, "read": policy.timeout_s,
                "write": policy.timeout_s, "pool": policy.timeout_s}
    with httpcore.ConnectionPool(network_backend=GuardedBackend(policy.allow_private)) as pool:
        for _ in range(policy.max_redirects + 1):
            request = httpcore.URL(scheme=target.raw_scheme, host=target.raw_host,
                                   port=target.port, target=target.raw_path)
            headers = [(b"Host", target.netloc), (b"Accept-Encoding", b"gzip, deflate"),
                       (b"User-Agent", b"switchboard-ingest")]
            try:
                with pool.stream(b"GET", request, headers=headers,
                                 extensions={"timeout": timeouts}) as response:
                    head = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                    if response.status in REDIRECTS:
                        target = _next_hop(target, head.get("location"))
                        continue
                    if response.status >= 400:
                        raise FetchRefused(f"HTTP {response.status}")
                    if response.status != 200:
                        raise FetchRefused(f"unexpected HTTP {response.status}")
                    media_type = head.get("content-type", "").split(";")[0].strip().lower()
                    if not accepts(media_type, str(target)):
                        raise FetchRefused(f"refused: content type {media_type or '(none)'} "
                                           "is not one ingest reads")
                    declared = head.get("content-length", "").strip()
                    if declared.isdigit() and int(declared) > policy.max_bytes:
                        raise FetchRefused(_too_large(policy))
                    body = read_capped(response.iter_stream(), head.get("content-encoding", ""),
                                       policy, deadline)
                    return Fetched(body, media_type, str(target))
            except BlockedAddress as error:
                raise FetchRefused(str(error)) from None
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as error:
                raise FetchRefused(f"fetch failed ({type(error).__name__}: {error or 'no detail'})") from None
    raise FetchRefused(f"refused: more than {policy.max_redirects} redirects")


def _next_hop(current: httpx.URL, location: str | None) -> httpx.URL:
    if not location:
        raise FetchRefused("a redirect without a Location")
    try:
        return check_url(str(current.join(location.strip())))
    except httpx.InvalidURL as error:
        raise FetchRefused(f"a redirect to an invalid URL ({error})") from None


def _too_large(policy: FetchPolicy) -> str:
    return (f"refused: larger than {policy.max_bytes / 1e6:g} MB once decompressed "
            "(raise --max-download-mb to allow it)")


def _decompressor(encoding: str):
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise FetchRefused(f"refused: content encoding {encoding!r} is not supported")


def read_capped(chunks: Iterable[bytes], encoding: str, policy: FetchPolicy,
                deadline: float) -> bytes:
    """The body, decoded as it streams in; refused the moment it passes the cap."""
    decoder, body, received = _decompressor(encoding), bytearray(), 0
    try:
        for chunk in chunks:
            received += len(chunk)
            if received > policy.max_bytes:
                raise FetchRefused(_too_large(policy))
            if time.monotonic() > deadline:
                raise FetchRefused(f"refused: download took longer than {3 * policy.timeout_s:g} s")
            while decoder is not None and chunk:
                # Never more output than the cap allows: a bomb stops here, not in memory.
                body += decoder.decompress(chunk, policy.max_bytes + 1 - len(body))
                chunk = decoder.unconsumed_tail
                if len(body) > policy.max_bytes:
                    raise FetchRefused(_too_large(policy))
                if decoder.eof and decoder.unused_data:  # a second gzip member
                    chunk, decoder = decoder.unused_data, _decompressor(encoding)
            if decoder is None:
                body += chunk
                if len(body) > policy.max_bytes:
                    raise FetchRefused(_too_large(policy))
        if decoder is not None and not decoder.eof:
            raise FetchRefused("the compressed body ended early")
    except zlib.error as error:
        raise FetchRefused(f"the compressed body is corrupt ({error})") from None
    return bytes(body)
