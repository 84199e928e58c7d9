"""How each Bexio answer becomes a typed error with a sentence for the user.

Bexio's error body is always ``{"error_code": <status>, "message": "..."}`` (NOTES §2
"Error body"): the code repeats the HTTP status, so the only finer distinction is the
message itself, which for a few 422s is a machine token (``missing_network_placeholder``,
NOTES §5 "Send"). Those tokens are the ``code`` of the rules below; everything else is
matched by status. The message is always kept in ``ledger_messages`` so the user sees
Bexio's own words next to ours.
"""
from __future__ import annotations

from ...http import ErrorRule, ErrorTable
from ...messages import N_

RECONNECT = N_("Reconnect Bexio in the integration settings.")

BEXIO_ERRORS = ErrorTable("Bexio", [
    # NOTES §5 "Send": the message must contain the literal [Network Link]; no body at all
    # is "missing data".
    ErrorRule(False, N_("Bexio refused to e-mail the invoice: the e-mail text has no [Network Link] placeholder."),
              status=422, code="missing_network_placeholder",
              fix=N_("Add [Network Link] to the invoice e-mail text in the settings.")),
    ErrorRule(False, N_("Bexio refused to e-mail the invoice: recipient, subject or text is missing."),
              status=422, code="missing data",
              fix=N_("Give the customer an e-mail address and fill in the e-mail subject and text in the settings.")),
    ErrorRule(False, N_("The request to Bexio was malformed; this is a defect of the integration."),
              status=400, fix=N_("Report it with the sync record; retrying will not help.")),
    ErrorRule(False, N_("Bexio no longer accepts the connection's authorisation."), status=401,
              reconnect=True, fix=RECONNECT),
    ErrorRule(False, N_("The Bexio user who connected lacks the rights for this, or the connection lacks a "
                        "permission."),
              status=403, fix=N_("Give that user the rights in Bexio (Settings > Users), or reconnect to grant "
                                 "the permissions the integration asks for.")),
    ErrorRule(False, N_("The record no longer exists in Bexio (it may have been deleted there)."), status=404,
              fix=N_("Check the record in Bexio; sync again to create it anew.")),
    ErrorRule(False, N_("Bexio refused the change because the record is in use."), status=409,
              fix=N_("Check the record in Bexio.")),
    ErrorRule(False, N_("Bexio refused the request format; this is a defect of the integration."), status=411),
    ErrorRule(False, N_("Bexio refused the request format; this is a defect of the integration."), status=415),
    ErrorRule(False, N_("Bexio could not save the record."), status=422,
              fix=N_("Read Bexio's message below; it names the field to correct (often a tax, account or "
                     "user chosen in the settings).")),
    # NOTES §2 "Rate limiting": per company per minute; the wait is RateLimit-Reset, read by
    # the client (Bexio sends no Retry-After).
    ErrorRule(True, N_("Bexio's per-minute request limit for this company is reached; the sync continues "
                       "when it resets."), status=429, pause=True, wait=60),
    ErrorRule(True, N_("Bexio had an internal error; the sync will be retried."), status=500, wait=60),
    ErrorRule(True, N_("Bexio is in maintenance; the sync will be retried."), status=503, wait=300),
])
