"""Keep secrets out of logs.

Every log record is rewritten when it is made: known secret values (registered as
they are loaded or minted, e.g. tokens decrypted by the vault) and anything shaped like a
credential (``Bearer ...``, ``access_token=...``, ``"refresh_token": "..."``) become
``[redacted]``. Redacting at the handler is the only place that also catches messages
from libraries (requests, oauthlib, urllib3) we do not control.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any

from .messages import Message

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"(?i)((?:access_token|refresh_token|client_secret|application_token|auth_id|refresh_id|"
               r"id_token|code|password|api_key|secret)[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"),
    re.compile(r"(?i)(auth\[(?:access_token|refresh_token|application_token)\]=)[^&\s]+"),
    # A Bitrix24 inbound webhook carries its secret in the path, /rest/<user id>/<secret>/
    # (https://apidocs.bitrix24.com/local-integrations/local-webhooks.html; the only form): urllib3's request lines print it.
    re.compile(r"(/rest/\d+/)[A-Za-z0-9_]+(?=/|\s|$|[\"'?])"),
    # Signed links in URLs, as access log lines print them: the DG1 admin session (s=), the
    # Xero/Bexio settings links (sig=), the Bitrix24 pages' form tokens (token=) and the
    # OAuth state. Each opens an installation's pages for hours. And Bitrix24's REST access
    # token, which it also takes as ?auth= (Bitrix24 NOTES §1 in docs/sources.md).
    re.compile(r"([?&](?:s|sig|token|state|auth)=)[^&\s\"']+"),
]

_known: set[str] = set()
_lock = threading.Lock()
_TRACEBACKS = logging.Formatter()


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is redacted wherever it appears."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    if isinstance(text, Message):  # its id is bridge's own sentence: the parameters may carry a secret
        return Message(text.id, {name: _redact_param(value) for name, value in text.params.items()})
    for secret in tuple(_known):
        if secret in text:
            text = text.replace(secret, "[redacted]")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


def _redact_param(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    return [_redact_param(item) for item in value] if isinstance(value, (list, tuple)) else value


def redact_all(texts: list[str] | None) -> list[str] | None:
    """``redact`` over a list (an error's details), ``None`` kept."""
    return None if texts is None else [redact(str(text)) for text in texts]


def _redacting_factory(base):
    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the log line
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # A traceback prints the messages of the whole exception chain: a transport error
            # quotes the URL it failed on, query string and all. Formatters reuse exc_text.
            record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
        return record

    factory.bridge_redacting = True
    return factory


def install_redaction(app=None) -> None:
    """Redact every log record at creation, whoever logs it and whichever handler gets it.

    A record factory (rather than a handler filter) also covers handlers added later, such
    as a process supervisor's or pytest's.
    """
    base = logging.getLogRecordFactory()
    if not getattr(base, "bridge_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(base))
    if app is not None:
        for name in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "XERO_CLIENT_SECRET", "XERO_WEBHOOK_KEY",
                     "BITRIX24_CLIENT_SECRET", "BEXIO_CLIENT_SECRET"):
            register_secret(app.config.get(name))
