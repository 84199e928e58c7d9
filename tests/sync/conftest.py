import pytest

from bridge.extensions import db
from bridge.models import Installation, LedgerConnection
from bridge.settings import save_section
from bridge.sync import registry
from tests.sync.fakes import FakeLedger, FakePlatform, fake_connector


@pytest.fixture
def fake_world(app_ctx):
    """An installation of a fake platform connected to a fake ledger, with a tax mapping."""
    platform, ledger = FakePlatform(), FakeLedger()
    registry.install(fake_connector("fakeplatform", "platform", platform))
    registry.install(fake_connector("fakeledger", "ledger", ledger))
    installation = Installation(platform="fakeplatform", account_id="acct-1")
    db.session.add(installation)
    db.session.flush()
    db.session.add(LedgerConnection(installation_id=installation.id, ledger="fakeledger", organisation_id="org-1"))
    save_section(installation, "mapping", {"tax_rates": {"15.0": "OUTPUT2"}})
    db.session.commit()
    yield installation, platform, ledger
    registry.PLATFORMS.pop("fakeplatform", None)
    registry.LEDGERS.pop("fakeledger", None)
