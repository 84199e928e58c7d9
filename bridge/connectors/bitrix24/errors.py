"""Every Bitrix24 error a user can meet, as one table
(https://apidocs.bitrix24.com/error-codes.html,
https://apidocs.bitrix24.com/settings/oauth/error-codes.html).

Rules match on the ``error`` code first (Bitrix24 reuses HTTP statuses: PORTAL_DELETED is a
500 but permanent), then on the status alone. The portal's own ``error_description`` travels
with the error as ``ledger_messages`` and is shown as it is.
"""
from __future__ import annotations

from ...http import ErrorRule, ErrorTable

REINSTALL = "Open the app in Bitrix24 (Applications > bridge) and install it again."

ERRORS = ErrorTable("Bitrix24", [
    # -- authorisation (NOTES s10, s3) ------------------------------------------------------
    ErrorRule(True, "The Bitrix24 access token expired and is being renewed.", code="expired_token", wait=5),
    ErrorRule(False, "Bitrix24 no longer accepts bridge's access for this portal.", code="NO_AUTH_FOUND",
              fix=REINSTALL, reconnect=True),
    ErrorRule(False, "Bitrix24 no longer accepts bridge's access for this portal.", code="invalid_token",
              fix=REINSTALL, reconnect=True),
    ErrorRule(False, "The app is no longer installed on this Bitrix24 portal, or its authorisation was "
                     "withdrawn.", code="invalid_grant", fix=REINSTALL, reconnect=True),
    ErrorRule(False, "Bitrix24 does not recognise bridge's app credentials (client id or secret), or the "
                     "app is not installed on this portal.", code="invalid_client",
              fix="Check BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET against the local application's "
                  "settings in Bitrix24, then install the app again.", reconnect=True),
    ErrorRule(False, "The Bitrix24 subscription of this portal has to be renewed before the app can work.",
              code="PAYMENT_REQUIRED", fix="Renew the Bitrix24 plan, then open the app again.", reconnect=True),
    ErrorRule(False, "The app lacks a Bitrix24 permission it needs.", code="insufficient_scope",
              fix="Give the local application the scopes crm, placement and userfieldconfig in Bitrix24 "
                  "(Developer resources), then install it again."),
    ErrorRule(False, "Bitrix24 refused access: the REST API needs a paid plan, or this action needs a "
                     "Bitrix24 administrator.", code="ACCESS_DENIED",
              fix="Ask a Bitrix24 administrator to open the app, or check the portal's plan."),
    ErrorRule(False, "The Bitrix24 user lacks the CRM rights this action needs.", code="INVALID_CREDENTIALS",
              fix="Give the user rights on invoices, contacts and companies in CRM > Settings > Access "
                  "permissions."),
    ErrorRule(False, "This Bitrix24 user is not allowed to use the app.", code="user_access_error",
              fix="Allow the user in Applications > bridge > Access rights."),
    ErrorRule(False, "This action is not possible with an inbound webhook; it needs the installed app.",
              code="WRONG_AUTH_TYPE", fix="Install bridge as a local application (docs/bitrix24.md)."),
    # -- limits (NOTES s9) ------------------------------------------------------------------
    ErrorRule(True, "Bitrix24 asked bridge to slow down (too many requests).", code="QUERY_LIMIT_EXCEEDED",
              wait=2),
    ErrorRule(True, "Bitrix24 limits how much time this method may use; bridge waits until it resets.",
              code="OPERATION_TIME_LIMIT", wait=60),
    ErrorRule(True, "Bitrix24 has blocked requests from this server for now.", code="OVERLOAD_LIMIT",
              fix="If this lasts, contact Bitrix24 support about a manual block of the server's address.",
              wait=600, pause=True),
    # -- the portal ---------------------------------------------------------------------------
    ErrorRule(False, "The Bitrix24 portal was deleted.", code="PORTAL_DELETED",
              fix="Remove the installation from bridge, or install the app on the new portal."),
    ErrorRule(False, "Bitrix24 requires https for this request.", code="INVALID_REQUEST",
              fix="Use the portal's https address."),
    ErrorRule(False, "This Bitrix24 portal does not offer a method bridge needs (an older self-hosted "
                     "version?).", code="ERROR_METHOD_NOT_FOUND",
              fix="Update the self-hosted Bitrix24 (CRM and REST modules)."),
    ErrorRule(False, "Bitrix24 does not support this CRM object type here.", code="ENTITY_TYPE_NOT_SUPPORTED"),
    ErrorRule(False, "The Bitrix24 record was not found (deleted?).", code="NOT_FOUND"),
    ErrorRule(False, "Bitrix24 refuses bridge's address as a handler: it must be a public https URL.",
              code="ERROR_WRONG_HANDLER_URL",
              fix="Set PUBLIC_URL to bridge's public https address, then install the app again."),
    ErrorRule(False, "This Bitrix24 portal does not offer that app placement.", code="ERROR_PLACEMENT_NOT_FOUND"),
    ErrorRule(False, "This Bitrix24 portal does not offer that event.", code="ERROR_EVENT_NOT_FOUND"),
    ErrorRule(False, "Too many commands in one Bitrix24 batch.", code="ERROR_BATCH_LENGTH_EXCEEDED"),
    ErrorRule(False, "That method is not allowed inside a Bitrix24 batch.", code="ERROR_BATCH_METHOD_NOT_ALLOWED"),
    ErrorRule(True, "Bitrix24 had an internal error.", code="INTERNAL_SERVER_ERROR", wait=60),
    # -- statuses without a known code ----------------------------------------------------
    ErrorRule(True, "Bitrix24 asked bridge to slow down (too many requests).", status=503, wait=5),
    ErrorRule(True, "Bitrix24 limits how much time this method may use; bridge waits until it resets.",
              status=429, wait=60),
    ErrorRule(False, "Bitrix24 refused bridge's access.", status=401, fix=REINSTALL, reconnect=True),
    ErrorRule(False, "Bitrix24 refused the request as not allowed.", status=403),
    ErrorRule(False, "Bitrix24 rejected the request.", status=400),
])
