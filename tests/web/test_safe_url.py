"""One rule for links whose address came from outside: only http(s) and our own paths
become links; ``javascript:`` and every other scheme is shown as text."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import render_template_string
from hypothesis import example, given, settings, strategies as st

from bridge.safe_url import keepable, safe_href

LINKS = ["https://go.xero.com/AccRec/View.aspx?InvoiceID=1", "http://127.0.0.1:5001/_sandbox/",
         "HTTPS://office.bexio.com/index.php/kb_invoice/show/id/42", "/dg1/orders?s=abc", "  https://a.example/x  "]
NOT_LINKS = ["javascript:alert(document.domain)", "JavaScript:alert(1)", " javascript:alert(1)",
             "java\tscript:alert(1)", "java\nscript:alert(1)", "\x01javascript:alert(1)", "javascript&colon;alert(1)",
             "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)",
             "//evil.example/x", "/\\evil.example/x", "\\\\evil.example", "https:/\\evil.example", "https://",
             "http:evil.example", "ftp://files.example/x", "mailto:a@example.com", "file:///etc/passwd",
             "https://[::1", "relative/path", "", None, 42, "https://a.example/\u2028x"]


@pytest.mark.parametrize("url", LINKS)
def test_http_and_our_own_paths_become_links(url):
    assert safe_href(url) == url.strip()


@pytest.mark.parametrize("url", NOT_LINKS)
def test_anything_else_is_not_a_link(url):
    assert safe_href(url) == ""


def _scheme_dressed(scheme: str) -> st.SearchStrategy[str]:
    """``scheme`` in random case, with whitespace or control characters slipped in, then
    ``:`` and anything: what browsers still run as that scheme."""
    junk = st.sampled_from(["", " ", "\t", "\n", "\r", "\x00", "\x0b", "\x7f", "%09"])
    return st.tuples(st.lists(st.tuples(junk, st.sampled_from([c.lower() for c in scheme] + [c.upper() for c in scheme])),
                              min_size=len(scheme), max_size=len(scheme)),
                     junk, st.text(max_size=30)).map(
        lambda t: "".join(j + c for j, c in t[0]) + t[1] + ":" + t[2])


JUNK = st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x0b", "\x7f", "\u2028", "\u00a0", "\\"])
# An http(s) address with a character slipped in that a browser drops or reads as "/".
DRESSED_LINKS = st.builds(lambda start, junk, rest: f"{start}{junk}{rest}",
                          st.sampled_from(["https://a.example/", "http://a.example", "/dg1/"]), JUNK,
                          st.text(max_size=10))
OUTSIDE = st.one_of(st.text(max_size=80), _scheme_dressed("javascript"), _scheme_dressed("data"),
                    _scheme_dressed("vbscript"), DRESSED_LINKS,
                    st.from_regex(r"\A(https?|javascript|data|ftp)?:?/{0,3}[\\/a-z.:@%\t]{0,20}\Z"))


@settings(max_examples=400, deadline=None)
@given(OUTSIDE)
@example("https://a.example/\tjavascript:x")
@example("/\\evil.example/x")
def test_whatever_comes_in_the_link_is_http_https_or_our_own_path(value):
    href = safe_href(value)
    if not href:
        return
    parts = urlsplit(href)
    if parts.scheme:
        assert parts.scheme.lower() in ("http", "https") and parts.netloc
    else:
        assert href.startswith("/") and not href.startswith("//")
    # What a browser would read: it drops tabs/newlines and reads "\" as "/"; neither is let through.
    assert not any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in href)


def test_a_url_we_keep_is_absolute_http_and_whole():
    assert keepable("https://office.bexio.com/kb_invoice/42", 255) == "https://office.bexio.com/kb_invoice/42"
    assert keepable("javascript:alert(1)") is None and keepable("/relative") is None
    assert keepable("https://a.example/" + "x" * 300, 255) is None  # cut short it would open another page


def _link(app, url):
    with app.test_request_context():
        return render_template_string(
            '{% call outside_link(url, target="_blank", rel="noopener noreferrer") %}RE-1{% endcall %}', url=url)


def test_the_macro_renders_a_link_or_the_text(app):
    assert _link(app, "https://go.xero.com/x?a=1&b=2") == \
        '<a href="https://go.xero.com/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">RE-1</a>'
    assert _link(app, "javascript:alert(document.domain)") == "RE-1"
    assert _link(app, None) == "RE-1"


def test_a_configured_base_url_that_is_no_http_url_stops_the_start(tmp_path):
    from bridge.config import Config, ConfigError

    with pytest.raises(ConfigError, match="XERO_WEB_URL must be an http"):
        Config({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path), "XERO_WEB_URL": "javascript:alert(1)//"})
    assert Config({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path),
                   "XERO_WEB_URL": "https://go.xero.com"}).values["XERO_WEB_URL"] == "https://go.xero.com"
