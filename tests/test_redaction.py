"""No token or secret reaches a log line, whoever logs it."""
import logging

from bridge.redaction import redact, register_secret


def test_credentials_in_common_shapes_are_redacted():
    line = ('POST /token refresh_token=rt-9f8e7d6c&client_secret=cs-123456 '
            'Authorization: Bearer eyJhbGciOi.abc.def {"access_token": "at-777777"} auth[application_token]=apptok99')
    cleaned = redact(line)
    for secret in ("rt-9f8e7d6c", "cs-123456", "eyJhbGciOi.abc.def", "at-777777", "apptok99"):
        assert secret not in cleaned
    assert "POST /token" in cleaned


def test_registered_secret_values_are_redacted_anywhere(app, caplog):
    register_secret("s3cr3t-webhook-key-value")
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("signing with %s", "s3cr3t-webhook-key-value")
    assert "s3cr3t-webhook-key-value" not in caplog.text
    assert "signing with [redacted]" in caplog.text


def test_app_secrets_are_registered_at_start(app, caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("key is %s", app.config["TOKEN_ENCRYPTION_KEY"])
    assert app.config["TOKEN_ENCRYPTION_KEY"] not in caplog.text
