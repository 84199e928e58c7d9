import pytest

from bridge.config import Config, ConfigError, sandboxed


def test_production_refuses_to_start_without_a_secret_and_names_it(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config({"BRIDGE_ENV": "production", "INSTANCE_PATH": str(tmp_path)})


def test_development_generates_secrets_once(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY", raising=False)
    first = Config({"BRIDGE_ENV": "development", "INSTANCE_PATH": str(tmp_path)}).values
    second = Config({"BRIDGE_ENV": "development", "INSTANCE_PATH": str(tmp_path)}).values
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["TOKEN_ENCRYPTION_KEY"] == second["TOKEN_ENCRYPTION_KEY"]
    assert "SECRET_KEY was not set" in caplog.text


def test_real_services_by_default_and_sandbox_in_demo(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", "k")
    real = Config({"BRIDGE_ENV": "production", "INSTANCE_PATH": str(tmp_path)}).values
    assert real["XERO_API_URL"] == "https://api.xero.com/api.xro/2.0"
    assert real["XERO_CLIENT_ID"] is None
    demo = Config({"BRIDGE_ENV": "demo", "INSTANCE_PATH": str(tmp_path), "SANDBOX_URL": "http://127.0.0.1:7001"}).values
    assert demo["XERO_API_URL"] == "http://127.0.0.1:7001/api.xero.com/api.xro/2.0"
    assert demo["XERO_CLIENT_ID"] == "bridge-demo"


def test_environment_overrides_a_base_url(monkeypatch, tmp_path):
    monkeypatch.setenv("XERO_API_URL", "https://proxy.example/xero")
    values = Config({"BRIDGE_ENV": "development", "INSTANCE_PATH": str(tmp_path)}).values
    assert values["XERO_API_URL"] == "https://proxy.example/xero"


def test_sandboxed_url_keeps_host_and_path():
    assert sandboxed("https://oauth.bitrix.info/oauth/token/", "http://h:1/") == "http://h:1/oauth.bitrix.info/oauth/token/"


def test_proxy_headers_are_trusted_only_when_configured(tmp_path):
    from bridge import create_app

    def remote_scheme(hops):
        app = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path), "TRUST_PROXY_HOPS": hops,
                          "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})

        @app.get("/scheme")
        def scheme():
            from flask import request
            return request.scheme

        return app.test_client().get("/scheme", headers={"X-Forwarded-Proto": "https"}).get_data(as_text=True)

    assert remote_scheme(0) == "http"
    assert remote_scheme(1) == "https"
