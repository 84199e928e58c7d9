"""The connect pages: who may open them, the state check, and the single-organisation path."""
from urllib.parse import parse_qs, urlsplit

from bridge.connectors.xero.oauth import SCOPES
from bridge.extensions import db
from bridge.models import LedgerConnection

from .conftest import TENANT, jwt


def settings_url(app, installation_id: int) -> str:
    from bridge.web.xero.connect import signed_settings_url
    with app.test_request_context():
        return signed_settings_url(installation_id)


def test_pages_need_a_signed_link_for_that_installation(app, client, installation):
    assert client.get(f"/xero/settings?installation={installation.id}&sig=forged").status_code == 403
    assert client.get(f"/oauth/xero/connect?installation={installation.id}").status_code == 403
    other = settings_url(app, installation.id + 1).replace(f"installation={installation.id + 1}",
                                                           f"installation={installation.id}")
    assert client.get(other).status_code == 403
    assert client.get(settings_url(app, installation.id)).status_code == 200


def start_connect(app, client, installation) -> str:
    """Press Connect; returns the state Xero would hand back."""
    query = settings_url(app, installation.id).split("?", 1)[1]
    answer = client.get(f"/oauth/xero/connect?{query}")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    params = parse_qs(target.query)
    assert target.path.endswith("/login.xero.com/identity/connect/authorize")
    assert params["response_type"] == ["code"] and params["client_id"] == ["bridge-demo"]
    assert params["redirect_uri"] == [app.config["PUBLIC_URL"] + "/oauth/xero/callback"]
    scopes = params["scope"][0].split()
    assert scopes == list(SCOPES) and "offline_access" in scopes and "accounting.transactions" not in scopes
    return params["state"][0]


def test_connect_asks_xero_for_the_granular_scopes_and_offline_access(app, client, installation):
    assert start_connect(app, client, installation)


def test_a_callback_whose_state_was_not_started_in_this_browser_is_refused(app, client, installation):
    state = start_connect(app, client, installation)
    stranger = app.test_client()  # another browser: no nonce in its session
    assert stranger.get(f"/oauth/xero/callback?code=abc&state={state}").status_code == 400
    assert client.get("/oauth/xero/callback?code=abc&state=forged").status_code == 400


def test_a_cancel_at_xero_changes_nothing(app, client, installation):
    state = start_connect(app, client, installation)
    page = client.get(f"/oauth/xero/callback?error=access_denied&state={state}")
    assert page.status_code == 400 and b"cancelled in Xero" in page.data
    assert db.session.scalars(db.select(LedgerConnection)).all() == []


def xero_grants_one_organisation(app, mocked, event: str, refresh: str, connection: str) -> str:
    """Xero's token and connections answers after the user allowed one organisation (Acme Ltd)."""
    access = jwt({"authentication_event_id": event, "exp": 9999999999})
    mocked.post(app.config["XERO_TOKEN_URL"], json={"access_token": access, "refresh_token": refresh,
                                                    "expires_in": 1800, "token_type": "Bearer",
                                                    "scope": " ".join(SCOPES)})
    mocked.get(app.config["XERO_CONNECTIONS_URL"] + f"?authEventId={event}", json=[
        {"id": connection, "authEventId": event, "tenantId": TENANT, "tenantType": "ORGANISATION",
         "tenantName": "Acme Ltd", "createdDateUtc": "2026-03-01T10:00:00.000", "updatedDateUtc": "2026-03-01T10:00:00.000"}])
    return access


def test_one_organisation_connects_without_a_choice(app, client, installation, mocked):
    state = start_connect(app, client, installation)
    access = xero_grants_one_organisation(app, mocked, "event-1", "r-1", "conn-9")
    answer = client.get(f"/oauth/xero/callback?code=the-code&state={state}", follow_redirects=True)
    assert answer.status_code == 200 and b"Connected to Acme Ltd" in answer.data
    token_request = mocked.calls[0].request
    assert token_request.headers["Authorization"].startswith("Basic ")  # client auth as Xero documents
    assert "code=the-code" in token_request.body and "grant_type=authorization_code" in token_request.body
    row = db.session.scalars(db.select(LedgerConnection)).one()
    assert (row.organisation_id, row.connection_ref, row.active) == (TENANT, "conn-9", True)
    assert b"r-1" not in answer.data and access.encode() not in answer.data  # tokens never reach the browser


def test_the_page_speaks_the_portals_language(app, client, installation):
    """Opened from a German portal's settings, the Xero page is German too (the install's LANG)."""
    installation.language = "de"
    db.session.commit()
    page = client.get(settings_url(app, installation.id)).get_data(as_text=True)
    assert "Nicht verbunden." in page and "Xero verbinden" in page and "Not connected." not in page
    state = start_connect(app, client, installation)
    cancelled = client.get(f"/oauth/xero/callback?error=access_denied&state={state}").get_data(as_text=True)
    assert "Die Verbindung wurde in Xero abgebrochen." in cancelled


def test_connect_from_the_portal_comes_back_to_the_portal_in_the_same_window(app, client, installation, mocked):
    """The portal's "Xero: connect" leaves the frame for Xero's consent page (which refuses
    framing) and ends on the portal's app page, which reloads the settings with the new state.
    The return address is signed: a forged one is ignored, never followed."""
    from bridge.web.xero.connect import signed_connect_url

    back = "https://acme.bitrix24.com/marketplace/app/"
    with app.test_request_context():
        url = signed_connect_url(installation.id, back=back)
    answer = client.get(url)
    state = parse_qs(urlsplit(answer.headers["Location"]).query)["state"][0]
    xero_grants_one_organisation(app, mocked, "event-2", "r-2", "conn-8")
    done = client.get(f"/oauth/xero/callback?code=the-code&state={state}")
    assert done.status_code == 302 and done.headers["Location"] == back
    assert db.session.scalars(db.select(LedgerConnection)).one().active

    # bridge's own Xero page connects in its own window too (no window opening another)
    page = client.get(settings_url(app, installation.id)).get_data(as_text=True)
    button = page.split("/oauth/xero/connect", 1)[1].split(">", 1)[0]
    assert 'target="_top"' in button and "_blank" not in button

    forged = url.replace("back=", "back=x")
    state = parse_qs(urlsplit(client.get(forged).headers["Location"]).query)["state"][0]
    again = client.get(f"/oauth/xero/callback?code=the-code&state={state}")
    assert again.status_code == 302 and "/xero/settings" in again.headers["Location"]
