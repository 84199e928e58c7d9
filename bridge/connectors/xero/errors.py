"""How Xero's failures become typed errors a user can act on.

``XERO_ERRORS`` maps HTTP statuses and error codes to rules (NOTES section 8);
``explain`` turns Xero's own validation messages into one sentence and a fix, while the
messages themselves travel unchanged in ``ledger_messages``.
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import PermanentError, RetryableError, SyncError
from ...http import ErrorRule, ErrorTable

RECONNECT_FIX = "Open Settings and connect Xero again."

XERO_ERRORS = ErrorTable("Xero", [
    # A day limit spends the organisation's budget for hours: pause, do not retry (NOTES 7).
    ErrorRule(True, "The Xero organisation has used its daily API allowance; syncing resumes when it resets.",
              status=429, code="day", pause=True, wait=3600,
              fix="Nothing to do: work resumes by itself. Fewer manual resyncs spare the allowance."),
    ErrorRule(True, "Xero's per-minute API limit was reached; the sync will retry shortly.",
              status=429, code="minute", wait=60),
    ErrorRule(True, "Too many calls to Xero at once; the sync will retry shortly.",
              status=429, code="concurrent", wait=2),
    ErrorRule(True, "Xero's API limit for this app was reached; the sync will retry shortly.",
              status=429, code="appminute", wait=60),
    ErrorRule(True, "Xero asked to slow down; the sync will retry shortly.", status=429, wait=60),
    # invalid_grant on refresh: the authorisation is gone (NOTES 1 and 8).
    ErrorRule(False, "Xero no longer accepts bridge's authorisation (it was revoked, or unused for 60 days).",
              code="invalid_grant", reconnect=True, fix=RECONNECT_FIX),
    ErrorRule(False, "Xero refused bridge's app credentials.", code="invalid_client",
              fix="Check XERO_CLIENT_ID and XERO_CLIENT_SECRET against the app in Xero's developer portal."),
    ErrorRule(False, "Xero refused the access token even after renewing it.", status=401, reconnect=True,
              fix=RECONNECT_FIX),
    # 403 AuthenticationUnsuccessful: tenant disconnected, scope missing, or no permission (NOTES 8).
    ErrorRule(False, "Xero refused access to this organisation: it may have been disconnected, or the user "
              "who connected it lacks permission.", status=403, reconnect=True, fix=RECONNECT_FIX),
    ErrorRule(False, "Xero could not find the record.", status=404,
              fix="It may have been deleted in Xero; resync to recreate the link."),
    ErrorRule(False, "Xero rejected the data.", status=400, code="ValidationException"),
    ErrorRule(False, "Xero could not read a search filter bridge sent.", status=400, code="QueryParseException"),
    ErrorRule(False, "Xero refused a precondition of the request.", status=412),
    ErrorRule(True, "Xero had an internal error; the sync will retry.", status=500, wait=120),
    # 501 is permanent: retrying an unimplemented call never helps (DESIGN principle 6).
    ErrorRule(False, "Xero does not support this operation.", status=501),
    ErrorRule(True, "Xero is offline for maintenance or the organisation is offline; the sync will retry.",
              status=503, wait=300),
])


# Known Xero validation messages -> (what it means, what to change). Xero's own text is kept too.
# A sentence's {name} is filled from the pattern's group of that name.
_EXPLAINED: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"Invoice # must be unique", re.I),
     "An invoice with this number already exists in Xero.",
     "bridge links to the existing invoice on the next attempt; if it belongs to someone else, "
     "renumber the invoice."),
    (re.compile(r"TaxType code '(?P<tax>[^']*)' cannot be used with account code '(?P<account>[^']*)'", re.I),
     "The tax rate {tax} and the sales account {account} of a line do not go together in Xero.",
     "Change the tax mapping or the sales account in Settings."),
    (re.compile(r"Account code '(?P<code>[^']+)' is not a valid code", re.I),
     "A line uses the sales account {code}, which does not exist (or is archived) in Xero.",
     "Choose an active sales account in Settings."),
    (re.compile(r"AccountCode .* not valid|account code .* archived", re.I),
     "A line uses a sales account that does not exist (or is archived) in Xero.",
     "Choose an active sales account in Settings."),
    (re.compile(r"TaxType .* (is not valid|does not exist)|Invalid TaxType|tax rate .* not valid", re.I),
     "A line uses a tax rate that does not exist in this Xero organisation.",
     "Map the tax rate to one of the organisation's tax rates in Settings."),
    (re.compile(r"not subscribed to currency", re.I),
     "The invoice's currency is not enabled in the Xero organisation.",
     "Enable the currency in Xero (Settings > Currencies, needs multi-currency), or invoice in the base currency."),
    (re.compile(r"already assigned to another contact", re.I),
     "Another Xero contact already has this customer's name.",
     "bridge gives the customer a distinguishing name on the next attempt; rename one of them in Xero if you prefer."),
    (re.compile(r"not of valid status for modification|cannot be edited", re.I),
     "The invoice can no longer be changed in Xero (it is approved, paid or voided there).",
     "Change it in Xero, or void it there and sync again."),
    (re.compile(r"Due ?Date", re.I),
     "Xero needs a due date on the invoice.",
     "Set a due date on the invoice, or payment terms in Xero."),
    (re.compile(r"ContactPersons|contact persons", re.I),
     "Xero refused the customer's contact persons.",
     "Check the people of the company (at most 5 are sent to Xero, each with a name)."),
    (re.compile(r"payment.*(exceed|more than)|amount .* outstanding", re.I),
     "The payment is larger than what is still due on the invoice in Xero.",
     "Check the payment amount, or whether the invoice was already paid in Xero."),
    (re.compile(r"lock date|period lock", re.I),
     "The invoice date is in a period locked in Xero.",
     "Change the lock date in Xero (Advanced > Financial settings), or the invoice date."),
]


def validation_messages(element: dict[str, Any] | None) -> list[str]:
    """Every ``ValidationErrors[].Message`` of an element, its lines and its contact (NOTES 8)."""
    if not isinstance(element, dict):
        return []
    messages = [str(e.get("Message")) for e in element.get("ValidationErrors") or [] if e.get("Message")]
    for line in element.get("LineItems") or []:
        messages += validation_messages(line)
    for key in ("Contact", "Invoice", "Account"):
        if isinstance(element.get(key), dict):
            messages += validation_messages(element[key])
    seen: set[str] = set()
    return [m for m in messages if not (m in seen or seen.add(m))]


def warning_messages(element: dict[str, Any] | None) -> list[str]:
    if not isinstance(element, dict):
        return []
    return [str(w.get("Message")) for w in element.get("Warnings") or [] if w.get("Message")]


def error_body_messages(body: Any) -> list[str]:
    """Messages of a 400 body: ValidationException elements, or the top-level Message."""
    if not isinstance(body, dict):
        return [body.strip()] if isinstance(body, str) and body.strip() else []
    messages: list[str] = []
    for element in body.get("Elements") or []:
        messages += validation_messages(element)
    if not messages:
        for key in ("Message", "Detail", "error_description", "error"):
            if body.get(key):
                messages.append(str(body[key]))
                break
    return messages


def explain(messages: list[str]) -> tuple[str, str | None]:
    """One sentence and a fix for the first message bridge recognises."""
    for message in messages:
        for pattern, sentence, fix in _EXPLAINED:
            found = pattern.search(message)
            if found:  # a sentence names what Xero named (the account code, the tax type)
                return sentence.format(**found.groupdict()), fix
    if messages:
        return "Xero rejected the data: " + "; ".join(messages[:3]), "Correct the data named in Xero's message and retry."
    return "Xero rejected the data.", None


def element_error(messages: list[str]) -> SyncError:
    """The error of one refused batch element (summarizeErrors=false, NOTES 2)."""
    sentence, fix = explain(messages)
    joined = " ".join(messages)
    if re.search(r"Invoice # must be unique|already assigned to another contact", joined, re.I):
        # Retrying runs the lookup again, which finds (or steps around) the existing record.
        code = "already_exists" if "Invoice #" in joined else "name_taken"
        return RetryableError(sentence, retry_after=5, code=code, fix=fix, ledger_messages=messages, status=200)
    return PermanentError(sentence, code="validation", fix=fix, ledger_messages=messages, status=200)
