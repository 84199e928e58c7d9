"""No page can be framed by a site its owner did not name (clickjacking of its buttons)."""
from __future__ import annotations


def test_pages_without_a_policy_of_their_own_may_be_framed_by_no_one(client):
    # The Xero and Bexio connection pages open in their own window and carry signed links
    # with Disconnect buttons; error pages and the landing page have nothing to frame either.
    for path in ("/", "/xero/settings?installation=1&sig=forged", "/oauth/bexio/connect?installation=1&sig=x",
                 "/static/no-such-file.css"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_pages_a_portal_or_shop_frames_keep_their_own_policy(client):
    # Refused launches answer with their own policy, never overwritten by the default.
    b24 = client.post("/bitrix24/app", data={"member_id": "m", "APPLICATION_TOKEN": "t", "AUTH_ID": "a"})
    assert b24.status_code == 401 and "X-Frame-Options" not in b24.headers
    assert b24.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    dg1 = client.get("/dg1/orders")
    assert dg1.status_code == 401 and "X-Frame-Options" not in dg1.headers


def test_a_nul_character_anywhere_in_a_request_is_refused_before_any_view(client):
    # PostgreSQL cannot compare or store it: without this, a 500 on PostgreSQL only.
    assert client.get("/dg1/launch", query_string={"tenant": "\x00"}).status_code == 400
    assert client.get("/hooks/dg1/a%00b").status_code in (400, 405)
    assert client.post("/hooks/dg1/a%00b", data=b"{}", content_type="application/json").status_code == 400
    assert client.post("/hooks/bitrix24", data={"event": "ONCRMDYNAMICITEMUPDATE",
                                                "auth[member_id]": "m\x00"}).status_code == 400
    assert client.post("/bitrix24/app", data={"member_id": "\x00"}).status_code == 400
