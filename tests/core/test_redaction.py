from __future__ import annotations

import logging

from django.test import RequestFactory

from crmhub.core import redaction


def test_registered_secrets_and_secret_patterns_are_masked():
    redaction.register_secret("s3cr3t-value-123")
    text = redaction.redact_text(
        "posting apikey=ABCDEF&x=1 with s3cr3t-value-123, "
        '{"password": "hunter2"} Authorization: Bearer eyJhbGciOi.abc'
    )
    assert "s3cr3t-value-123" not in text
    assert "ABCDEF" not in text
    assert "hunter2" not in text
    assert "eyJhbGciOi" not in text
    assert "x=1" in text


def test_the_logging_filter_masks_messages_args_and_tracebacks(caplog):
    redaction.register_secret("canary-in-a-log-line")
    logger = logging.getLogger("crmhub.test")
    logger.addFilter(redaction.RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="crmhub.test"):
            logger.info("calling with %s", "canary-in-a-log-line")
            try:
                raise ValueError("boom canary-in-a-log-line")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.filters.clear()
    rendered = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "canary-in-a-log-line" not in rendered
    assert redaction.MASK in rendered


def test_error_reports_mask_secret_post_fields_and_locals():
    redaction.register_secret("canary-in-a-report")
    request = RequestFactory().post("/x", {"secret_api_key": "canary-in-a-report", "name": "n"})
    reporter = redaction.ExceptionReporterFilter()
    assert "canary-in-a-report" not in str(dict(reporter.get_post_parameters(request)))
    assert redaction.redact_value({"api_key": "x", "nested": ["canary-in-a-report"]}) == {
        "api_key": redaction.MASK,
        "nested": [redaction.MASK],
    }
