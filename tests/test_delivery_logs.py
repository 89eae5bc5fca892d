"""The log formatter and redaction filter: one JSON object per line, secrets masked."""

from __future__ import annotations

import io
import json
import logging

from paperfeed.core.settings import load_settings
from paperfeed.delivery.common.logs import MASK, REQUEST_ID, configure_logging, redact


def test_redact_masks_credentials_and_known_secrets() -> None:
    text = ("Authorization: Bearer pf_abcDEF123-_xyz password=hunter22 token: tok123 "
            "postgresql://paperfeed:pg-secret@db/paperfeed and the key K3y-value-1234")
    out = redact(text, ("K3y-value-1234",))
    for secret in ("pf_abcDEF123-_xyz", "hunter22", "tok123", "pg-secret", "K3y-value-1234"):
        assert secret not in out
    assert out.count(MASK) == 5 and "postgresql://paperfeed:" in out and "@db/paperfeed" in out


def test_json_lines_carry_the_request_id_and_mask_secrets() -> None:
    settings = load_settings(
        {
            "log_format": "json",
            "log_level": "info",
            "secret_key": "the-secret-key-value",
            "database_url": "postgresql://u:db-pass-99@127.0.0.1/x",
        },
        environ={},
    )
    buffer = io.StringIO()
    handler = configure_logging(settings, stream=buffer)
    try:
        log = logging.getLogger("paperfeed.test")
        token = REQUEST_ID.set("rid-7")
        try:
            log.info("signing with %s", "the-secret-key-value", extra={"user": "zoe"})
            try:
                raise ValueError("connect to postgresql://u:db-pass-99@127.0.0.1/x failed")
            except ValueError:
                log.exception("boom\nsecond line")
        finally:
            REQUEST_ID.reset(token)
        log.warning("outside a request")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    lines = buffer.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(lines) == 3  # a traceback and a newline in a message stay inside one line
    assert records[0]["request_id"] == "rid-7" and records[0]["user"] == "zoe"
    assert records[1]["request_id"] == "rid-7" and "ValueError" in records[1]["exception"]
    assert records[2]["request_id"] is None and records[2]["level"] == "warning"
    assert "the-secret-key-value" not in buffer.getvalue() and "db-pass-99" not in buffer.getvalue()


def test_redaction_keeps_arxivs_words() -> None:
    message = (
        "OAI-PMH error from https://oaipmh.arxiv.org/oai?verb=ListRecords: badResumptionToken: "
        "The value of the resumptionToken argument is invalid or expired."
    )
    assert redact(message) == message  # "The" is no credential after "...Token:"
    assert (
        redact("token=abc123 and resumptionToken: kept")
        == f"token={MASK} and resumptionToken: kept"
    )
