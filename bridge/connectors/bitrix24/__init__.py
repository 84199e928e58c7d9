"""Bitrix24: the CRM platform (app install, iframe pages, event callbacks, REST client).

See docs/bitrix24.md for setting it up, https://apidocs.bitrix24.com/ for the API facts
(docs/sources.md lists the pages behind the ``NOTES §n`` citations in this package).
"""
from __future__ import annotations

from ...descriptor import Connector

BITRIX24 = Connector(
    kind="bitrix24", role="platform", title="Bitrix24", package=__name__,
    builder=".platform:Bitrix24Platform.build", port=".platform:Bitrix24Platform",
    inbox_handler=".inbox:translate", inbox_batched=True,  # reads our database only
    blueprints=(".hooks:bp",  # the event receiver
                "bridge.web.bitrix24.app:bp",  # install page, main page, invoice tab
                "bridge.web.bitrix24.settings:bp", "bridge.web.bitrix24.sync_log:bp",
                "bridge.web.bitrix24.dashboard:bp", "bridge.web.bitrix24.report:bp"),
    cli=".cli:bitrix24_cli",
    settings_sections=(".settings:StageSettings",),
    periodic_jobs=(".reconcile:bitrix24_reconcile",  # what a lost event missed
                   ".webhook:bitrix24_webhook_poll"),  # webhook mode has no events: changes are polled
    flows=(".uninstall:run_check",  # an uninstall event takes effect once Bitrix24 confirms it
           ".webhook:run_poll"),  # Retry on a webhook portal's failed poll
    demo_seeder=".demo:demo_seed",
)
