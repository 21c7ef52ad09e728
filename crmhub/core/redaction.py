"""Keep secrets out of logs, error reports and audit records.

Two layers: values known to be secret (every credential decrypted in this process is
registered) are replaced wherever they appear, and values under a secret-like name
(``apikey=…``, ``Authorization: …``, ``"password": …``) are masked whatever they are. The
names and the mask are the vocabulary the connectors use too (``crmhub.redaction_words``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import ItemsView, Iterable, Mapping
from types import FrameType
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter as DjangoExceptionReporter
from django.views.debug import SafeExceptionReporterFilter

from crmhub.redaction_words import MASK, MIN_SECRET_LENGTH, is_secret_name
from crmhub.redaction_words import SECRET_NAME as SECRET_NAME  # re-exported for the apps

#: ``Authorization: Basic …`` / ``Bearer …``: the credential after the scheme word.
_AUTHORIZATION = re.compile(
    r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+"
)
#: ``"name": "value"`` in JSON.
_JSON_PAIR = re.compile(r"([\"']([\w.-]+)[\"']\s*:\s*)([\"'])(.*?)\3")
#: ``name=value`` in query strings and form bodies.
_ASSIGNMENT = re.compile(r"(?<![\w.-])([\w.-]+)=([^&\s'\"]+)")
_known: set[str] = set()
_lock = threading.Lock()
_MAX_KNOWN = 10_000


def register_secret(value: object) -> None:
    """Remember ``value`` as secret so that it is masked wherever it later appears."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if len(_known) >= _MAX_KNOWN:
            _known.clear()
        _known.add(value)


def register_secrets(values: Iterable[object]) -> None:
    """Register every value of ``values`` (see ``register_secret``)."""
    for value in values:
        register_secret(value)


def redact_text(text: str) -> str:
    """Return ``text`` with known secrets and secret-bearing patterns masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    # The scheme word first, so that ``Authorization=Basic …`` keeps no credential.
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2)} {MASK}", text)
    text = _JSON_PAIR.sub(
        lambda m: (
            f"{m.group(1)}{m.group(3)}{MASK}{m.group(3)}"
            if is_secret_name(m.group(2))
            else m.group(0)
        ),
        text,
    )
    return _ASSIGNMENT.sub(
        lambda m: f"{m.group(1)}={MASK}" if is_secret_name(m.group(1)) else m.group(0), text
    )


def redact_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with secret-named keys masked and values scrubbed."""
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if is_secret_name(key):
            clean[key] = MASK
        else:
            clean[key] = redact_value(value)
    return clean


def redact_value(value: Any) -> Any:
    """Return ``value`` with every nested string scrubbed and secret keys masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Logging filter that scrubs the rendered message (args included) and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatter = logging.Formatter()
            record.exc_text = redact_text(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django error reports with credential-looking names and known secrets masked."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|FIELD_KEYS|DATABASE_URL|BROKER_URL",
        flags=re.IGNORECASE,
    )

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        params = super().get_post_parameters(request)
        if not params:
            return params
        cleaned = params.copy()
        for key in cleaned:
            cleaned[key] = MASK if is_secret_name(key) else redact_text(str(cleaned[key]))
        return cleaned

    def cleanse_special_types(self, request: HttpRequest | None, value: Any) -> Any:
        value = super().cleanse_special_types(request, value)
        if isinstance(value, str):
            return redact_text(value)
        return value

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> ItemsView[str, Any]:
        """Mask variables named like a credential (``token``, ``password``…), scrub the rest."""
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return {
            name: MASK if SECRET_NAME.search(str(name)) else redact_value(value)
            for name, value in variables
        }.items()

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        return {key: redact_text(str(value)) for key, value in meta.items()}


class ExceptionReporter(DjangoExceptionReporter):
    """Django's error report (the e-mail to ADMINS, the DEBUG 500 page) with secrets masked.

    The filter above cleans what Django hands it (settings, POST, META, frame variables),
    but the report also shows the query string and the exception's own message unfiltered;
    those are cleaned here, and the finished report is scrubbed of known secrets once more.
    """

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if "request_GET_items" in data:
            data["request_GET_items"] = [
                (key, MASK if is_secret_name(key) else redact_text(str(value)))
                for key, value in data["request_GET_items"]
            ]
        for name in ("request_insecure_uri", "exception_value", "exception_notes"):
            if data.get(name):
                data[name] = redact_text(str(data[name]))
        return data

    # Django's rendered report stays safe when secrets in it become the plain-text MASK.
    def get_traceback_html(self) -> SafeString:
        return mark_safe(redact_text(super().get_traceback_html()))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact_text(super().get_traceback_text()))  # noqa: S308
