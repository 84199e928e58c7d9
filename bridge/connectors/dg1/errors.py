"""How DG1's answers become typed errors (docs/dg1.md section 3).

DG1 answers every error as RFC 7807 ``application/problem+json``; the last path segment
of ``type`` (``.../problems/invalid-transition``) is the code this table matches on.
The problem's ``title``/``detail`` (and a stock refusal's ``errors``) are kept as the
platform's own words (``ledger_messages``) and shown next to our sentence.
"""
from __future__ import annotations

from ...http import ErrorRule, ErrorTable
from ...messages import N_

SYSTEM = "DG1"
_BUG = N_("If it happens again, report it to the bridge maintainers with this record.")

DG1_ERRORS = ErrorTable(SYSTEM, [
    ErrorRule(False, N_("DG1 refused the API key of this shop."), status=401, code="unauthorized", reconnect=True,
              fix=N_("Create a new API key in the DG1 admin panel and register it in bridge "
                     "(flask dg1 add-tenant ... --api-key <new key>).")),
    ErrorRule(False, N_("DG1 refused the API key of this shop."), status=401, reconnect=True,
              fix=N_("Create a new API key in the DG1 admin panel and register it in bridge.")),
    ErrorRule(False, N_("The site or order no longer exists in DG1 (or belongs to another tenant)."),
              status=404, code="not-found",
              fix=N_("Check that the site still exists in the DG1 admin panel.")),
    ErrorRule(False, N_("DG1 does not allow this status change for the order."), status=409,
              code="invalid-transition",
              fix=N_("Look at the order in the DG1 admin panel: it may have been cancelled or completed there.")),
    ErrorRule(False, N_("DG1 refused the data bridge sent."), status=422, code="validation-failed", fix=_BUG),
    ErrorRule(False, N_("DG1 saw the same idempotency key with a different change."), status=422,
              code="idempotency-key-reused", fix=_BUG),
    ErrorRule(False, N_("DG1 refused a parameter bridge sent."), status=400, fix=_BUG),
    ErrorRule(False, N_("DG1 does not accept this request method."), status=405, fix=_BUG),
    ErrorRule(False, N_("DG1 refused the body format bridge sent."), status=415, fix=_BUG),
    # 10 requests per second per tenant (docs/dg1.md section 2): a short pause of the
    # tenant's shared budget, then the same call again.
    ErrorRule(True, N_("DG1's request limit for this shop is reached; bridge waits and continues."),
              status=429, pause=True, wait=1.0),
    ErrorRule(True, N_("DG1 is temporarily unavailable; bridge retries."), status=503, wait=5.0),
])
