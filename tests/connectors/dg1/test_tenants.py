"""Registering a DG1 tenant: the CLI, the demo seeder, secrets at rest."""
from __future__ import annotations

import responses
from sqlalchemy import select

from bridge.connectors.dg1.tenants import find_tenant, secrets_of
from bridge.extensions import db
from bridge.models import Credential, Installation

from .conftest import SITES

ARGS = ["dg1", "add-tenant", "--tenant", "acme", "--api-key", "key-acme-1", "--webhook-secret", "whs-acme",
        "--launch-secret", "ls-acme", "--admin-origin", "https://admin.dg1.ch/acme/"]


def test_add_tenant_stores_the_installation_with_encrypted_secrets(app, runner):
    result = runner.invoke(args=ARGS + ["--no-check"])
    assert result.exit_code == 0, result.output
    assert "key-acme-1" not in result.output
    with app.app_context():
        installation = find_tenant("acme")
        assert (installation.platform, installation.endpoints["admin_origin"]) == ("dg1", "https://admin.dg1.ch")
        ciphertext = db.session.get(Credential, installation.credential_id).ciphertext
        assert "key-acme-1" not in ciphertext and "whs-acme" not in ciphertext
        assert secrets_of(installation).webhook_secret == "whs-acme"


def test_running_it_again_replaces_the_secrets_of_the_same_installation(app, runner):
    runner.invoke(args=ARGS + ["--no-check"])
    rotated = [a if a != "key-acme-1" else "key-acme-2" for a in ARGS]
    assert runner.invoke(args=rotated + ["--no-check"]).exit_code == 0
    with app.app_context():
        (installation,) = db.session.scalars(select(Installation)).all()
        assert secrets_of(installation).api_key == "key-acme-2"


@responses.activate
def test_the_check_calls_dg1_with_the_key_and_says_what_it_found(app, runner):
    api = app.config["DG1_API_URL"]
    responses.get(f"{api}/sites", json={"data": SITES, "next_cursor": None})
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "sites: ch (CHF), pro (CHF)" in result.output
    assert responses.calls[0].request.headers["Authorization"] == "Bearer key-acme-1"


@responses.activate
def test_a_refused_key_is_reported_with_what_to_do(app, runner):
    api = app.config["DG1_API_URL"]
    responses.get(f"{api}/sites", status=401, content_type="application/problem+json",
                  json={"type": "https://api.dg1.ch/problems/unauthorized", "status": 401, "detail": "unknown key"})
    result = runner.invoke(args=ARGS)
    assert result.exit_code != 0 and "DG1 refused the API key" in result.output


def test_missing_options_are_refused(runner):
    assert runner.invoke(args=["dg1", "add-tenant", "--tenant", "acme"]).exit_code != 0


def test_the_demo_seeder_registers_both_sandbox_shops(app):
    from bridge.connectors.dg1 import DG1
    from bridge.connectors.dg1.demo import seed_demo_tenants

    assert DG1.load(DG1.demo_seeder) is seed_demo_tenants
    with app.app_context():
        lines = list(seed_demo_tenants())
        installation = find_tenant("demo")
        assert secrets_of(installation).launch_secret == "dg1-demo-launch-demo"
        assert installation.endpoints["admin_origin"] == app.config["SANDBOX_URL"]
        assert secrets_of(find_tenant("alpen")).api_key == "dg1-demo-key-alpen"
    assert "demo" in lines[0] and "alpen" in lines[1]
