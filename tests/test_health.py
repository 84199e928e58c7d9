def test_healthz_reports_database_and_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["queue"] == "ok"


def test_healthz_says_503_when_the_database_is_gone(app, tmp_path):
    from bridge import create_app

    broken = create_app({"BRIDGE_ENV": "test", "INSTANCE_PATH": str(tmp_path / "i2"),
                         "DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/nope.db"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("error")


def test_landing_page_says_what_bridge_is(client):
    page = client.get("/").get_data(as_text=True)
    assert "Bitrix24" in page and "Xero" in page and "Bexio" in page
