"""Signed links are credentials: an access log line never prints them."""
from __future__ import annotations

from bridge.redaction import redact


def test_signed_links_in_access_lines_are_redacted():
    line = ('127.0.0.1 - - "GET /dg1/orders?s=eyJpIjoxLCJ0IjoiZGVtbyJ9.ZXhhbXBsZQ.c2lnbmF0dXJl&message=ok HTTP/1.1" 200 '
            '"GET /xero/settings?installation=3&sig=MQ.ZXhhbXBsZQ.c2ln" '
            '"GET /bitrix24/app/log?token=eyJpIjoxfQ.AbC.dEf&page=2" "GET /oauth/xero/callback?code=abc&state=eyJp.x.y"')
    cleaned = redact(line)
    for secret in ("eyJpIjoxLCJ0IjoiZGVtbyJ9", "MQ.ZXhhbXBsZQ", "eyJpIjoxfQ", "eyJp.x.y", "code=abc"):
        assert secret not in cleaned
    # What is not a credential stays readable.
    assert "installation=3" in cleaned and "message=ok" in cleaned and "page=2" in cleaned
