"""The DG1 admin launch, verified (docs/dg1.md section 6): DG1 opens a page of bridge's admin
with a link it signs with the tenant's launch secret, fresh within five minutes.

Library code, like the webhook check in ``hooks.py``: the admin pages (``bridge/web/dg1``)
call ``verify_launch`` and answer a ``LaunchRefused`` with their refusal page, framed for the
tenant's admin when the link named a registered tenant.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from ...messages import N_
from ...models import Installation
from . import signing
from .tenants import find_tenant, secrets_of

log = logging.getLogger(__name__)

PAGES = ("orders", "products", "settings")  # the ``page`` a launch may name (docs/dg1.md section 6)
ARGS = ("tenant", "site", "user", "ts", "page", "sig", "lang")  # lang: optional, signed when given


class LaunchRefused(Exception):
    """A launch link bridge will not open: ``status`` 404 (unknown shop), 400 (incomplete),
    401 (expired or not signed by the tenant). ``installation``: the tenant it named, if
    registered (its admin may frame the refusal)."""

    def __init__(self, status: int, message: str, installation: Installation | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.installation = status, message, installation


@dataclass(frozen=True)
class Launch:
    installation: Installation
    site: str
    user: str
    page: str
    lang: str = ""  # the admin's language as DG1 named it ("de", "fr"...), "" when the link names none


def verify_launch(args: Mapping[str, str]) -> Launch:
    """The launch a link's query arguments (``ARGS``) prove, or ``LaunchRefused``."""
    args = {name: args.get(name, "") or "" for name in ARGS}
    installation = find_tenant(args["tenant"]) if args["tenant"] else None
    if installation is None:
        raise LaunchRefused(404, N_("This DG1 shop is not registered in bridge."))
    if args["page"] not in PAGES or not args["site"] or not args["user"]:
        raise LaunchRefused(400, N_("The link from DG1 is incomplete."), installation)
    if not signing.fresh(args["ts"], signing.now_seconds()):
        raise LaunchRefused(401, N_("The link from DG1 has expired. Open the page again from the DG1 menu."), installation)
    secret = secrets_of(installation).launch_secret
    if not signing.launch_valid(secret, args["tenant"], args["site"], args["user"], args["ts"], args["page"],
                                args["sig"], args["lang"]):
        log.info("dg1 launch for %s refused: bad signature", args["tenant"])
        raise LaunchRefused(401, N_("The link from DG1 is not signed correctly."), installation)
    return Launch(installation, args["site"], args["user"], args["page"], args["lang"][:5])
