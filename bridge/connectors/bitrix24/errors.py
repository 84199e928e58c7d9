"""Every Bitrix24 error a user can meet, as one table
(https://apidocs.bitrix24.com/error-codes.html,
https://apidocs.bitrix24.com/settings/oauth/error-codes.html).

Rules match on the ``error`` code, whatever the HTTP status (``CodeFirstTable``); the status
alone decides only for a reply without a code. The portal's own ``error_description`` travels
with the error as ``ledger_messages`` and is shown as it is. Codes, statuses and where the docs
and real portals disagree: docs/bitrix24.md, "Errors".
"""
from __future__ import annotations

from typing import Any

from ...http import ErrorRule, ErrorTable
from ...messages import N_

REINSTALL = N_("Open the app in Bitrix24 (Applications > bridge) and install it again.")



def error_code(raw: Any) -> str | None:
    """The reply's ``error`` as text, or None when it has none. Most codes are strings; the engine
    methods (crm.item.*, crm.type.*...) send numbers, ``{"error": 100}`` (apidocs.bitrix24.com/
    api-reference/booking/booking/booking-v1-booking-delete.html) or ``"100"`` (crm/timeline/logmessage/
    crm-timeline-logmessage-list.html); REST 3.0 sends an object with ``code`` (b24pysdk
    api/requesters/_utils/parse_response.py). The old CRM methods send an empty code (crm-deal-get.html)."""
    if isinstance(raw, dict):
        raw = raw.get("code")
    if raw is None or isinstance(raw, bool) or str(raw).strip() == "":
        return None
    return str(raw).strip()


class CodeFirstTable(ErrorTable):
    """The code decides, never the status alone.

    One code comes with different statuses (insufficient_scope, ACCESS_DENIED and INVALID_CREDENTIALS are
    401 and PORTAL_DELETED 403 in the docs' system-error table, apidocs.bitrix24.com/error-codes.html, whose
    versions up to 2026-08-21 said 403 and 500; Bitrix24's Python SDK files PORTAL_DELETED under 410; a
    method's own ACCESS_DENIED is a 403 or a 400; NOT_FOUND is a 400), and one status carries many
    codes (a 401 is an expired token, a wrong webhook or a withdrawn app). So a known code picks its rule at any status and in any letter case; an
    unknown code gets a plain refusal, retried only when the status says the portal failed (5xx, 429),
    and never passes for a lost installation; the status rules serve replies that carry no code."""

    def rule_for(self, status: int, code: Any) -> ErrorRule:
        code = error_code(code)
        if code is None:
            return super().rule_for(status, None)
        wanted = code.casefold()
        for rule in self.rules:
            if rule.code and rule.code.casefold() == wanted:
                return rule
        if status >= 500 or status == 429:
            return ErrorRule(True, N_("Bitrix24 could not handle the request just now."), wait=60)
        return ErrorRule(False, N_("Bitrix24 refused the request."))

    def error(self, status: int, code: Any, **kwargs: Any):
        return super().error(status, error_code(code), **kwargs)


ERRORS = CodeFirstTable("Bitrix24", [
    # -- authorisation (NOTES s10, s3) ------------------------------------------------------
    ErrorRule(True, N_("The Bitrix24 access token expired and is being renewed."), code="expired_token", wait=5),
    ErrorRule(False, N_("Bitrix24 no longer accepts bridge's access for this portal."), code="NO_AUTH_FOUND",
              fix=REINSTALL, reconnect=True),
    ErrorRule(False, N_("Bitrix24 no longer accepts bridge's access for this portal."), code="invalid_token",
              fix=REINSTALL, reconnect=True),
    ErrorRule(False, N_("The app is no longer installed on this Bitrix24 portal, or its authorisation was "
                        "withdrawn."), code="invalid_grant", fix=REINSTALL, reconnect=True),
    ErrorRule(False, N_("Bitrix24 does not recognise bridge's app credentials (client id or secret), or the "
                        "app is not installed on this portal."), code="invalid_client",
              fix=N_("Check BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET against the local application's "
                     "settings in Bitrix24, then install the app again."), reconnect=True),
    ErrorRule(False, N_("The Bitrix24 subscription of this portal has to be renewed before the app can work."),
              code="PAYMENT_REQUIRED", fix=N_("Renew the Bitrix24 plan, then open the app again."), reconnect=True),
    ErrorRule(False, N_("The app lacks a Bitrix24 permission it needs."), code="insufficient_scope",
              fix=N_("Give the local application (or the inbound webhook) the scopes crm, catalog, placement, "
                     "userfieldconfig, im and user_brief in Bitrix24 (Developer resources), then install it "
                     "again.")),
    ErrorRule(False, N_("Bitrix24 refused access: the REST API needs a paid plan, or this action needs a "
                        "Bitrix24 administrator."), code="ACCESS_DENIED",
              fix=N_("Ask a Bitrix24 administrator to open the app, or check the portal's plan.")),
    # error-codes.html now: "no active webhook with the specified user identifier and secret code"; until
    # 2026-08-21: "the user whose access token or webhook was used lacks permissions". Both are said.
    ErrorRule(False, N_("Bitrix24 did not accept bridge's credentials: the user lacks the CRM rights this "
                        "needs, or the inbound webhook is no longer active."), code="INVALID_CREDENTIALS",
              fix=N_("Give the user rights on invoices, contacts and companies in CRM > Settings > Access "
                     "permissions; for an inbound webhook, check it is still listed under Developer resources.")),
    ErrorRule(False, N_("This Bitrix24 user is not allowed to use the app."), code="user_access_error",
              fix=N_("Allow the user in Applications > bridge > Access rights.")),
    ErrorRule(False, N_("This action is not possible with an inbound webhook; it needs the installed app."),
              code="WRONG_AUTH_TYPE", fix=N_("Install bridge as a local application (docs/bitrix24.md).")),
    # -- limits (NOTES s9) ------------------------------------------------------------------
    ErrorRule(True, N_("Bitrix24 asked bridge to slow down (too many requests)."), code="QUERY_LIMIT_EXCEEDED",
              wait=2),
    ErrorRule(True, N_("Bitrix24 limits how much time this method may use; bridge waits until it resets."),
              code="OPERATION_TIME_LIMIT", wait=60),
    ErrorRule(True, N_("Bitrix24 has blocked requests from this server for now."), code="OVERLOAD_LIMIT",
              fix=N_("If this lasts, contact Bitrix24 support about a manual block of the server's address."),
              wait=600, pause=True),
    # -- the portal ---------------------------------------------------------------------------
    ErrorRule(False, N_("The Bitrix24 portal was deleted, or its public part is closed."), code="PORTAL_DELETED",
              fix=N_("On a self-hosted Bitrix24, turn off “Temporary closure of the public part of the site” "
                     "(Settings > Product settings > Module settings > Main module); otherwise remove the "
                     "installation from bridge, or install the app on the new portal.")),
    ErrorRule(False, N_("Bitrix24 requires https for this request."), code="INVALID_REQUEST",
              fix=N_("Use the portal's https address.")),
    ErrorRule(False, N_("This Bitrix24 portal does not offer a method bridge needs (an older self-hosted "
                        "version?)."), code="ERROR_METHOD_NOT_FOUND",
              fix=N_("Update the self-hosted Bitrix24 (CRM and REST modules).")),
    ErrorRule(False, N_("Bitrix24 does not support this CRM object type here."), code="ENTITY_TYPE_NOT_SUPPORTED",
              fix=N_("If the portal changed between old and smart invoices, press Check and repair setup on the "
                     "app's main page (webhook mode: run .venv/bin/flask --app app bitrix24 webhook <its URL> "
                     "again).")),
    ErrorRule(False, N_("The Bitrix24 record was not found (deleted?)."), code="NOT_FOUND",
              fix=N_("If it was deleted in Bitrix24, nothing needs doing; else check that the Bitrix24 user "
                     "bridge acts for may see it.")),
    ErrorRule(False, N_("Bitrix24 refuses bridge's address as a handler: it must be a public https URL."),
              code="ERROR_WRONG_HANDLER_URL",
              fix=N_("Set PUBLIC_URL to bridge's public https address, then install the app again.")),
    ErrorRule(False, N_("This Bitrix24 portal does not offer that app placement."), code="ERROR_PLACEMENT_NOT_FOUND"),
    ErrorRule(False, N_("This Bitrix24 portal does not offer that event."), code="ERROR_EVENT_NOT_FOUND"),
    ErrorRule(False, N_("Too many commands in one Bitrix24 batch."), code="ERROR_BATCH_LENGTH_EXCEEDED"),
    ErrorRule(False, N_("That method is not allowed inside a Bitrix24 batch."), code="ERROR_BATCH_METHOD_NOT_ALLOWED"),
    ErrorRule(True, N_("Bitrix24 had an internal error."), code="INTERNAL_SERVER_ERROR", wait=60),
    # -- the request (per-method error tables of apidocs.bitrix24.com) --------------------------
    ErrorRule(False, N_("Bitrix24 missed a value bridge should have sent with the request."), code="100",
              fix=N_("This is a fault in bridge: tell bridge's support, naming this sync record.")),
    ErrorRule(False, N_("Bitrix24 refused a value bridge sent."), code="INVALID_ARG_VALUE"),
    ErrorRule(False, N_("Bitrix24 lets only the portal's employees (intranet users) do this."),
              code="allowed_only_intranet_user",
              fix=N_("Install and open the app as an employee of the portal, not an extranet user.")),
    ErrorRule(False, N_("The Bitrix24 user bridge acts for can no longer sign in (dismissed or deactivated)."),
              code="authorization_error", fix=REINSTALL, reconnect=True),
    ErrorRule(True, N_("Bitrix24 had an internal error."), code="ERROR_UNEXPECTED_ANSWER", wait=60),
    # 401s of an app Bitrix24 no longer knows (b24pysdk b24pysdk/errors: ERROR_OAUTH "Application not
    # installed", NOT_INSTALLED, APPLICATION_NOT_FOUND).
    *(ErrorRule(False, N_("Bitrix24 no longer accepts bridge's access for this portal."), code=code,
                fix=REINSTALL, reconnect=True) for code in ("ERROR_OAUTH", "NOT_INSTALLED", "APPLICATION_NOT_FOUND")),
    # -- replies without a code (a proxy's page, an empty error) ---------------------------
    ErrorRule(True, N_("Bitrix24 asked bridge to slow down (too many requests)."), status=503, wait=5),
    ErrorRule(True, N_("Bitrix24 limits how much time this method may use; bridge waits until it resets."),
              status=429, wait=60),
    ErrorRule(False, N_("Bitrix24 refused bridge's access."), status=401, fix=REINSTALL, reconnect=True),
    ErrorRule(False, N_("Bitrix24 refused the request as not allowed."), status=403),
    ErrorRule(False, N_("Bitrix24 rejected the request."), status=400),
])


# An inbound webhook (webhook mode) is not the app: what to do differs where access is refused.
# The webhook's address is its only credential; a new one is set with ``bitrix24 webhook URL`` (cli.py).
NEW_WEBHOOK = N_("In Bitrix24 open Developer resources > Other > Inbound webhook, make the webhook again "
                 "(scopes crm, catalog, userfieldconfig), then run: "
                 ".venv/bin/flask --app app bitrix24 webhook <its URL>")
_WEBHOOK_GONE = N_("Bitrix24 no longer accepts the inbound webhook bridge uses (deleted, expired, or its "
                   "user deactivated).")
WEBHOOK_ERRORS = CodeFirstTable("Bitrix24", [
    ErrorRule(False, _WEBHOOK_GONE, code="INVALID_CREDENTIALS", fix=NEW_WEBHOOK, reconnect=True),
    ErrorRule(False, _WEBHOOK_GONE, code="NO_AUTH_FOUND", fix=NEW_WEBHOOK, reconnect=True),
    ErrorRule(False, N_("The inbound webhook lacks a Bitrix24 permission (scope) bridge needs."),
              code="insufficient_scope",
              fix=N_("Tick the scopes crm, catalog and userfieldconfig on the inbound webhook in Bitrix24 "
                     "(Developer resources > Other > Inbound webhook), save, then run "
                     ".venv/bin/flask --app app bitrix24 webhook <its URL> again.")),
    *(rule for rule in ERRORS.rules if rule.code not in ("INVALID_CREDENTIALS", "NO_AUTH_FOUND",
                                                         "insufficient_scope") and rule.status != 401),
    ErrorRule(False, _WEBHOOK_GONE, status=401, fix=NEW_WEBHOOK, reconnect=True),
])
