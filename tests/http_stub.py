"""A stand-in for an outside HTTP service, served for real on a thread of its own.

Subclasses build `self.app` (a Starlette app) and name the path prefix their clients use as
`base_path`; `with Stub(...) as stub:` serves it on a free port and sets `stub.url` (base URL
plus `base_path`) until the block ends.
"""

from __future__ import annotations

import contextlib
from typing import Self

from starlette.applications import Starlette

from server.simulator.fake_cloud_api import serve_in_thread


class HttpStub:
    """Start and stop of a stub service; the subclass supplies `app` and `base_path`."""

    base_path = ""
    app: Starlette

    def __init__(self) -> None:
        self.url: str | None = None
        self._serving: contextlib.AbstractContextManager[str] | None = None

    def __enter__(self) -> Self:
        self._serving = serve_in_thread(self.app)
        self.url = self._serving.__enter__() + self.base_path
        return self

    def __exit__(self, *exc: object) -> None:
        if self._serving is not None:
            self._serving.__exit__(None, None, None)
            self._serving = None
