"""REST errors with the codes and HTTP statuses a real portal uses (NOTES section 10)."""
from __future__ import annotations


class RestError(Exception):
    """Rendered as ``{"error": code, "error_description": text}`` with ``status``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def expired_token() -> RestError:
    # NOTES s10: 401 expired_token -> refresh and retry.
    return RestError("expired_token", "The access token provided has expired.", 401)


def invalid_token() -> RestError:
    # NOTES s10: invalid_token [memory]; 401 like expired_token but refreshing does not help.
    return RestError("invalid_token", "The access token provided is invalid.", 401)


def no_auth() -> RestError:
    # NOTES s10: 401 NO_AUTH_FOUND (bad token or webhook).
    return RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def method_not_found() -> RestError:
    return RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def query_limit() -> RestError:
    # NOTES s9: the body is exactly this, with HTTP 503.
    return RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit(method: str) -> RestError:
    # NOTES s9: 429 for that one method until operating_reset_at.
    return RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)


def portal_deleted() -> RestError:
    # NOTES s10 / DESIGN principle 6: a 500, but permanent.
    return RestError("PORTAL_DELETED", "Portal was deleted", 500)


def access_denied(text: str = "Access denied!") -> RestError:
    return RestError("ACCESS_DENIED", text, 403)


def insufficient_scope() -> RestError:
    return RestError("insufficient_scope", "The request requires higher privileges than provided by the access token", 403)


def not_found(text: str = "Element not found") -> RestError:
    return RestError("NOT_FOUND", text, 400)


def bad_argument(text: str) -> RestError:
    return RestError("ERROR_ARGUMENT", text, 400)
