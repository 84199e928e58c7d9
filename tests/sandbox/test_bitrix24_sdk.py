"""The official b24pysdk, unmodified, against the sandbox.

b24pysdk builds ``https://{domain}/rest/{method}.json``, so the sandbox is served over TLS
with a throwaway self-signed certificate and the SDK gets the domain
``127.0.0.1:<port>/acme.bitrix24.com``; ``REQUESTS_CA_BUNDLE`` makes requests trust it.
"""
from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest
import requests

from bridge.sandbox import SandboxHost, create_sandbox_app
from tests.sandbox.bitrix24_support import ACME

b24pysdk = pytest.importorskip("b24pysdk")


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_sandbox(tmp_path, monkeypatch):
    import threading

    from werkzeug.serving import make_server

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    host = SandboxHost(app_url="http://127.0.0.1:9", public_url="")
    server = make_server("127.0.0.1", 0, create_sandbox_app(host), threaded=True, ssl_context=context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host.public_url = f"https://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    yield host, f"127.0.0.1:{server.server_port}"
    server.shutdown()


def test_sdk_calls_crm_methods_and_batch(tls_sandbox):
    host, netloc = tls_sandbox
    auth = requests.post(f"https://{netloc}/_sandbox/bitrix24/portals/{ACME}/install",
                         json={"mode": "tokens"}, timeout=10).json()["auth"]
    app = b24pysdk.BitrixAppLocal(domain=f"{netloc}/{ACME}", client_id="local.bridge-demo.000001",
                                  client_secret="bridge-demo-secret")
    token = b24pysdk.BitrixTokenLocal(auth_token=auth["access_token"], refresh_token=auth["refresh_token"], bitrix_app=app)

    added = token.call_method("crm.item.add", {"entityTypeId": 31, "fields": {"title": "From SDK"}})
    item_id = added["result"]["item"]["id"]
    got = token.call_method("crm.item.get", {"entityTypeId": 31, "id": item_id})
    assert got["result"]["item"]["title"] == "From SDK"
    contact = token.call_method("crm.contact.add", {"fields": {"NAME": "Sam", "EMAIL": [{"VALUE": "s@x.io", "VALUE_TYPE": "WORK"}]}})
    company = token.call_method("crm.company.add", {"fields": {"TITLE": "Sam Co"}})
    assert token.call_method("crm.contact.list", {"filter": {"ID": contact["result"]}})["total"] == 1
    assert token.call_method("crm.company.get", {"id": company["result"]})["result"]["TITLE"] == "Sam Co"

    batch = token.call_batch({"get": ("crm.item.get", {"entityTypeId": 31, "id": item_id}),
                              "missing": ("crm.item.get", {"entityTypeId": 31, "id": 999}),
                              "list": ("crm.item.list", {"entityTypeId": 31, "filter": {">id": 0}, "select": ["id", "title"]})})
    result = batch["result"]
    assert result["result"]["get"]["item"]["id"] == item_id
    assert result["result"]["list"]["items"] == [{"id": item_id, "title": "From SDK"}]
    assert result["result_error"]["missing"]["error"] == "NOT_FOUND"


def test_sdk_webhook_token(tls_sandbox):
    host, netloc = tls_sandbox
    hook = b24pysdk.BitrixWebhook(domain=f"{netloc}/{ACME}", webhook_token="1/acmewebhooksecret1")
    assert hook.call_method("crm.item.list", {"entityTypeId": 31})["result"] == {"items": []}
