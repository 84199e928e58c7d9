"""REST errors with the codes and HTTP statuses a real portal uses (NOTES section 10)."""
from __future__ import annotations


class RestError(Exception):
    """Rendered as ``{"error": code, "error_description": text}`` with ``status``."""

    def __init__(self, code: str | int, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, str | int]:
        return {"error": self.code, "error_description": self.description}


def expired_token() -> RestError:
    # NOTES s10: 401 expired_token -> refresh and retry.
    return RestError("expired_token", "The access token provided has expired.", 401)


def invalid_token() -> RestError:
    # NOTES s10: invalid_token [memory]; 401 like expired_token but refreshing does not help.
    return RestError("invalid_token", "The access token provided is invalid.", 401)


def no_auth() -> RestError:
    # error-codes.html: 401 NO_AUTH_FOUND, "neither an access token nor a webhook code was passed".
    return RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def method_not_found() -> RestError:
    return RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def query_limit() -> RestError:
    # NOTES s9: the body is exactly this, with HTTP 503.
    return RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit(method: str) -> RestError:
    # NOTES s9: 429 for that one method until operating_reset_at.
    return RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)


# Statuses of the system errors below: the table "Statuses and System Error Codes" of
# https://apidocs.bitrix24.com/error-codes.html as published now (b24restdocs _includes/system-errors.md,
# commit 05e4d57): 401 for insufficient_scope, ACCESS_DENIED (REST not on the plan) and INVALID_CREDENTIALS
# (no active webhook with that user id and secret), 403 for PORTAL_DELETED. Its versions up to 2026-08-21
# said 403, 403, 403 and 500, which the sandbox (and the notes bridge started from) answered before.
# Bitrix24's Python SDK (b24pysdk 1.2.1 b24pysdk/errors/__init__.py) files PORTAL_DELETED under 410; bridge's
# error table matches the code, not the status (docs/bitrix24.md, "Errors"), so every variant is handled alike.

def portal_deleted() -> RestError:
    # error-codes.html: 403 PORTAL_DELETED "Portal was deleted"; on a self-hosted portal it means the public
    # part of the site is closed (Main module settings, "Temporary closure of the public part of the site").
    return RestError("PORTAL_DELETED", "Portal was deleted", 403)


def access_denied(text: str = "Access denied!") -> RestError:
    """A method's own refusal of the user, e.g. event.bind's "Access denied! Offline events binding requires
    administrator access rights" (apidocs.bitrix24.com/api-reference/events/event-bind.html: 403)."""
    return RestError("ACCESS_DENIED", text, 403)


def rest_unavailable(webhook: bool) -> RestError:
    """The portal's plan has no REST API: error-codes.html, 401 ACCESS_DENIED "REST is available only on
    commercial plans"; "a webhook receives a different error message", "REST is available only by
    subscription"."""
    text = "REST is available only by subscription" if webhook else "REST is available only on commercial plans"
    return RestError("ACCESS_DENIED", text, 401)


def insufficient_scope(webhook: bool = False) -> RestError:
    # error-codes.html: 401, "... than provided by the webhook token"; "for an application, the error message
    # ends with provided by the access token".
    token = "webhook token" if webhook else "access token"
    return RestError("insufficient_scope", f"The request requires higher privileges than provided by the {token}",
                     401)


def invalid_credentials() -> RestError:
    # error-codes.html: 401 INVALID_CREDENTIALS "Invalid request credentials": "no active webhook with the
    # specified user identifier and secret code was found" (a wrong, deleted or expired inbound webhook).
    return RestError("INVALID_CREDENTIALS", "Invalid request credentials", 401)


def not_found(text: str = "Element not found") -> RestError:
    return RestError("NOT_FOUND", text, 400)


def bad_argument(text: str) -> RestError:
    return RestError("ERROR_ARGUMENT", text, 400)


def missing_parameter(name: str) -> RestError:
    """A required parameter of a ``crm.item.*`` (engine controller) method is absent: HTTP 400 with
    the NUMERIC code 100, e.g. apidocs.bitrix24.com/api-reference/crm/universal/user-defined-object-types/
    crm-type-add.html ("100 | Could not find value for parameter {fields}") and .../booking/booking/
    booking-v1-booking-delete.html (the body ``{"error": 100, ...}`` with a JSON number)."""
    return RestError(100, f"Could not find value for parameter {{{name}}}", 400)


def spa_not_found() -> RestError:
    """An entityTypeId no CRM type has: apidocs.bitrix24.com/api-reference/crm/universal/crm-item-get.html
    ("400 | NOT_FOUND | SPA not found | an invalid entityTypeId")."""
    return RestError("NOT_FOUND", "SPA not found", 400)


def old_style(description: str) -> RestError:
    """The old CRM methods (crm.deal.*, crm.invoice.*...) answer with an EMPTY code and the reason in the
    description ("Not found", "ID is not defined or invalid."): apidocs.bitrix24.com/api-reference/crm/deals/
    crm-deal-get.html, "Error handling"."""
    return RestError("", description, 400)
