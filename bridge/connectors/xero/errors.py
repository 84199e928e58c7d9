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
from ...messages import Message, N_

RECONNECT_FIX = N_("Open Settings and connect Xero again.")

XERO_ERRORS = ErrorTable("Xero", [
    # A day limit spends the organisation's budget for hours: pause, do not retry (NOTES 7).
    ErrorRule(True, N_("The Xero organisation has used its daily API allowance; syncing resumes when it resets."),
              status=429, code="day", pause=True, wait=3600,
              fix=N_("Nothing to do: work resumes by itself. Fewer manual resyncs spare the allowance.")),
    ErrorRule(True, N_("Xero's per-minute API limit was reached; the sync will retry shortly."),
              status=429, code="minute", wait=60),
    ErrorRule(True, N_("Too many calls to Xero at once; the sync will retry shortly."),
              status=429, code="concurrent", wait=2),
    ErrorRule(True, N_("Xero's API limit for this app was reached; the sync will retry shortly."),
              status=429, code="appminute", wait=60),
    ErrorRule(True, N_("Xero asked to slow down; the sync will retry shortly."), status=429, wait=60),
    # invalid_grant on refresh: the authorisation is gone (NOTES 1 and 8).
    ErrorRule(False, N_("Xero no longer accepts bridge's authorisation (it was revoked, or unused for 60 days)."),
              code="invalid_grant", reconnect=True, fix=RECONNECT_FIX),
    ErrorRule(False, N_("Xero refused bridge's app credentials."), code="invalid_client",
              fix=N_("Check XERO_CLIENT_ID and XERO_CLIENT_SECRET against the app in Xero's developer portal.")),
    ErrorRule(False, N_("Xero refused the access token even after renewing it."), status=401, reconnect=True,
              fix=RECONNECT_FIX),
    # 403 AuthenticationUnsuccessful: tenant disconnected, scope missing, or no permission (NOTES 8).
    ErrorRule(False, N_("Xero refused access to this organisation: it may have been disconnected, or the user "
                        "who connected it lacks permission."), status=403, reconnect=True, fix=RECONNECT_FIX),
    ErrorRule(False, N_("Xero could not find the record."), status=404,
              fix=N_("It may have been deleted in Xero; resync to recreate the link.")),
    ErrorRule(False, N_("Xero rejected the data."), status=400, code="ValidationException"),
    ErrorRule(False, N_("Xero could not read a search filter bridge sent."), status=400, code="QueryParseException"),
    ErrorRule(False, N_("Xero refused a precondition of the request."), status=412),
    ErrorRule(True, N_("Xero had an internal error; the sync will retry."), status=500, wait=120),
    # 501 is permanent: retrying an unimplemented call never helps (DESIGN principle 6).
    ErrorRule(False, N_("Xero does not support this operation."), status=501),
    ErrorRule(True, N_("Xero is offline for maintenance or the organisation is offline; the sync will retry."),
              status=503, wait=300),
])


# Known Xero validation messages -> (what it means, what to change). Xero's own text is kept too.
# A sentence's %(name)s is filled from the pattern's group of that name.
_EXPLAINED: list[tuple[re.Pattern[str], Message, Message]] = [
    (re.compile(r"Invoice # must be unique", re.I),
     N_("An invoice with this number already exists in Xero."),
     N_("bridge links to the existing invoice on the next attempt; if it belongs to someone else, "
        "renumber the invoice.")),
    (re.compile(r"TaxType code '(?P<tax>[^']*)' cannot be used with account code '(?P<account>[^']*)'", re.I),
     N_("The tax rate %(tax)s and the sales account %(account)s of a line do not go together in Xero."),
     N_("Change the tax mapping or the sales account in Settings.")),
    (re.compile(r"Account code '(?P<code>[^']+)' is not a valid code", re.I),
     N_("A line uses the sales account %(code)s, which does not exist (or is archived) in Xero."),
     N_("Choose an active sales account in Settings.")),
    (re.compile(r"AccountCode .* not valid|account code .* archived", re.I),
     N_("A line uses a sales account that does not exist (or is archived) in Xero."),
     N_("Choose an active sales account in Settings.")),
    (re.compile(r"TaxType .* (is not valid|does not exist)|Invalid TaxType|tax rate .* not valid", re.I),
     N_("A line uses a tax rate that does not exist in this Xero organisation."),
     N_("Map the tax rate to one of the organisation's tax rates in Settings.")),
    (re.compile(r"not subscribed to currency", re.I),
     N_("The invoice's currency is not enabled in the Xero organisation."),
     N_("Enable the currency in Xero (Settings > Currencies, needs multi-currency), or invoice in the base "
        "currency.")),
    (re.compile(r"already assigned to another contact", re.I),
     N_("Another Xero contact already has this customer's name."),
     N_("bridge gives the customer a distinguishing name on the next attempt; rename one of them in Xero if "
        "you prefer.")),
    (re.compile(r"not of valid status for modification|cannot be edited", re.I),
     N_("The invoice can no longer be changed in Xero (it is approved, paid or voided there)."),
     N_("Change it in Xero, or void it there and sync again.")),
    (re.compile(r"Due ?Date", re.I),
     N_("Xero needs a due date on the invoice."),
     N_("Set a due date on the invoice, or payment terms in Xero.")),
    (re.compile(r"ContactPersons|contact persons", re.I),
     N_("Xero refused the customer's contact persons."),
     N_("Check the people of the company (at most 5 are sent to Xero, each with a name).")),
    (re.compile(r"payment.*(exceed|more than)|amount .* outstanding", re.I),
     N_("The payment is larger than what is still due on the invoice in Xero."),
     N_("Check the payment amount, or whether the invoice was already paid in Xero.")),
    (re.compile(r"lock date|period lock", re.I),
     N_("The invoice date is in a period locked in Xero."),
     N_("Change the lock date in Xero (Advanced > Financial settings), or the invoice date.")),
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


def explain(messages: list[str]) -> tuple[Message, Message | None]:
    """One sentence and a fix for the first message bridge recognises."""
    for message in messages:
        for pattern, sentence, fix in _EXPLAINED:
            found = pattern.search(message)
            if found:  # a sentence names what Xero named (the account code, the tax type)
                return sentence.with_params(**found.groupdict()), fix
    if messages:
        return (N_("Xero rejected the data: %(messages)s", messages="; ".join(messages[:3])),
                N_("Correct the data named in Xero's message and retry."))
    return N_("Xero rejected the data."), None


def element_error(messages: list[str]) -> SyncError:
    """The error of one refused batch element (summarizeErrors=false, NOTES 2)."""
    sentence, fix = explain(messages)
    joined = " ".join(messages)
    if re.search(r"Invoice # must be unique|already assigned to another contact", joined, re.I):
        # Retrying runs the lookup again, which finds (or steps around) the existing record.
        code = "already_exists" if "Invoice #" in joined else "name_taken"
        return RetryableError(sentence, retry_after=5, code=code, fix=fix, ledger_messages=messages, status=200)
    return PermanentError(sentence, code="validation", fix=fix, ledger_messages=messages, status=200)
