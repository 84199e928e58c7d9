"""What the installer does on a portal: placements, event bindings, the invoices' "sync" field.

Idempotent by reading first (NOTES s13, b24phpsdk#446): what is already bound or created is
left alone, so running it again (re-install, app update, "repair" from the main page)
changes nothing; "Handler already binded" and "Field already exists" count as done when a
binding or field appears between the read and the write. Three requests in all (batches).

Portals differ (NOTES s2, s5): placements and events are bound only where ``placement.list``
and ``events`` offer them; legacy invoices get their field only where ``crm.invoice.*``
exists; offline events only where the user is an admin.

Words the portal shows (the checkbox's title, the tab's and the menu's) name the installation's
ledger when one is connected at install ("Sync with Bexio"), else the neutral "Sync with
accounting". A field keeps the title it was made with, and always its code
(``UF_CRM_SMART_INVOICE_XERO_SYNC``, from the first release): renaming it would orphan every
invoice's value and the portal's filters and reports. The pages name the box by the title the
portal reads back (``sync_label_of``). docs/bitrix24.md, "The sync field".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ...errors import PermanentError, SyncError
from ...messages import N_
from ...models import utcnow
from .client import BatchReply, Bitrix24Client
from .mapper import LEGACY_SYNC_FIELD, SMART_INVOICE, SYNC_FIELD, SYNC_FIELD_CAMEL
from .scopes import missing as missing_scopes

HOOK_PATH = "/hooks/bitrix24"
OFFLINE_CONNECTOR = "bridge"  # NOTES s4: our own writes carry it, so Bitrix24 does not queue them

# placement -> (path, required). NOTES s5: codes verified in the docs. Titles: ``placement_title``.
PLACEMENTS: dict[str, tuple[str, bool]] = {
    "CRM_SMART_INVOICE_DETAIL_TAB": ("/bitrix24/placement/invoice", True),
    "LEFT_MENU": ("/bitrix24/app", False),
    "CRM_ANALYTICS_MENU": ("/bitrix24/dashboard", False),  # bridge/web/bitrix24/dashboard.py
    # Old invoices have no detail tab; their card's toolbar lists applications
    # (https://dev.1c-bitrix.ru/rest_help/application_embedding/index.php, "scope CRM"): the
    # same page as the tab, for the invoice "L<ID>". Bound only where the portal has old invoices.
    "CRM_INVOICE_DETAIL_TOOLBAR": ("/bitrix24/placement/invoice", False),
}
LEGACY_PLACEMENTS = frozenset({"CRM_INVOICE_DETAIL_TOOLBAR"})
NEUTRAL_LEDGER = "accounting"  # the ledger's place in a title before one is connected
# The title every field made before titles named the ledger has (installations whose stored
# setup does not say).
FIRST_SYNC_LABEL = "Sync with Xero"
INVOICE_EVENTS = ["ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE"]  # NOTES s4
LEGACY_EVENTS = ["ONCRMINVOICEADD", "ONCRMINVOICEUPDATE", "ONCRMINVOICESETSTATUS", "ONCRMINVOICEDELETE"]
PARTY_EVENTS = ["ONCRMCONTACTADD", "ONCRMCONTACTUPDATE", "ONCRMCONTACTDELETE",
                "ONCRMCOMPANYADD", "ONCRMCOMPANYUPDATE", "ONCRMCOMPANYDELETE"]
APP_EVENTS = ["ONAPPINSTALL", "ONAPPUNINSTALL"]  # ONAPPINSTALL: tokens may arrive here too (NOTES s13)


@dataclass
class SetupResult:
    placements: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    offline_events: list[str] = field(default_factory=list)
    offline_confirm: bool = False  # event.offline.get clear=0 allowed (rest_offline_extended)
    sync_key: str = SYNC_FIELD_CAMEL
    sync_label: str = ""  # the field's title as the portal shows it
    legacy_invoices: bool = False
    # False on a portal that kept the old invoices only (a self-hosted one): no smart-invoice
    # tab, field or events there, and none is required.
    smart_invoices: bool = True
    missing_scopes: list[str] = field(default_factory=list)  # scopes bridge calls that the portal refused (scopes.py)
    changed: int = 0  # bindings and fields created by this run
    warnings: list[str] = field(default_factory=list)
    at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _already(error: SyncError, *needles: str) -> bool:
    text = " ".join([error.message, *error.ledger_messages]).lower()
    return any(n in text for n in needles)


def sync_label(ledger_name: str | None) -> str:
    """The title a new sync field gets: after the connected ledger, else neutral."""
    return f"Sync with {ledger_name or NEUTRAL_LEDGER}"


def placement_title(code: str, ledger_name: str | None) -> str:
    name = ledger_name or NEUTRAL_LEDGER.capitalize()
    # The dashboard shows Xero's bank transactions (the ledger that has them: ``has_transactions``).
    return {"CRM_SMART_INVOICE_DETAIL_TAB": name, "CRM_INVOICE_DETAIL_TOOLBAR": name, "LEFT_MENU": f"{name} sync",
            "CRM_ANALYTICS_MENU": "Xero transactions"}[code]


def sync_label_of(installation) -> str:
    """The sync field's title on this installation's portal, as the last setup read it."""
    return ((installation.endpoints or {}).get("setup") or {}).get("sync_label") or FIRST_SYNC_LABEL


def _sync_field_definition(label: str) -> dict[str, Any]:
    # NOTES s7: boolean UF on smart invoices, default on, checkbox.
    return {"moduleId": "crm", "field": {
        "entityId": "CRM_SMART_INVOICE", "fieldName": SYNC_FIELD, "userTypeId": "boolean", "mandatory": "N",
        "showFilter": "Y", "editFormLabel": {"en": label}, "listColumnLabel": {"en": label},
        "settings": {"DEFAULT_VALUE": 1, "DISPLAY": "CHECKBOX", "LABEL_CHECKBOX": label}}}


def _legacy_field_definition(label: str) -> dict[str, Any]:
    # NOTES s7: FIELD_NAME gets the UF_CRM_ prefix; 13 characters left after it. The code
    # stays XERO_SYNC whatever the ledger: it names the field on every portal that has it.
    return {"fields": {"FIELD_NAME": "XERO_SYNC", "USER_TYPE_ID": "boolean", "EDIT_FORM_LABEL": label,
                       "LIST_COLUMN_LABEL": label, "SETTINGS": {"DEFAULT_VALUE": 1}}}


def _existing_label(fields: list[Any]) -> str:
    """The title of the sync field already on the portal (userfieldconfig.list), if it says."""
    for found in fields:
        labels = found.get("editFormLabel") if isinstance(found, dict) else None
        if isinstance(labels, dict) and labels:
            return str(labels.get("en") or next(iter(labels.values())) or "")
    return ""


def read_portal(client: Bitrix24Client) -> BatchReply:
    return client.batch({
        "offered_placements": ("placement.list", {}),
        "placements": ("placement.get", {}),
        "offered_events": ("events", {}),
        "events": ("event.get", {}),
        "fields": ("userfieldconfig.list", {"moduleId": "crm", "filter": {"entityId": "CRM_SMART_INVOICE",
                                                                           "fieldName": SYNC_FIELD}}),
        "legacy_fields": ("crm.invoice.userfield.list", {"filter": {"FIELD_NAME": LEGACY_SYNC_FIELD}}),
        "offline_feature": ("feature.get", {"CODE": "rest_offline_extended"}),
        "scopes": ("scope", {}),
    })


def run_setup(client: Bitrix24Client, public_url: str, ledger_name: str | None = None) -> SetupResult:
    """Bind what is missing and create the field; returns what is in place. ``ledger_name``:
    the installation's connected ledger ("Bexio"), which new titles name; None: neutral."""
    result = SetupResult(at=utcnow().isoformat())
    state = read_portal(client)
    for key in ("offered_placements", "placements", "offered_events", "events"):
        if key in state.errors:
            raise state.errors[key]
    handler = public_url.rstrip("/") + HOOK_PATH
    offered_placements = set(state.get("offered_placements") or [])
    offered_events = {str(e).upper() for e in state.get("offered_events") or []}
    bound_placements = {(b["placement"], b["handler"]) for b in state.get("placements") or []}
    bound_events = {(str(b["event"]).upper(), b.get("handler") or "", int(b.get("offline") or 0))
                    for b in state.get("events") or []}
    result.legacy_invoices = "legacy_fields" in state.results and "legacy_fields" not in state.errors
    if state.ok("scopes"):
        result.missing_scopes = missing_scopes(state.get("scopes") or [])
        result.warnings += [f"The app lacks the scope {scope}." for scope in result.missing_scopes]
    # Old invoices only: the portal offers the old invoices' methods and no smart-invoice tab
    # (the tab is offered wherever smart invoices are on, NOTES s5).
    result.smart_invoices = not result.legacy_invoices or any(
        code.startswith("CRM_SMART_INVOICE") for code in offered_placements)
    if result.smart_invoices and "fields" in state.errors:
        raise state.errors["fields"]
    result.offline_confirm = (state.get("offline_feature") or {}).get("value") == "Y" \
        if isinstance(state.get("offline_feature"), dict) else False

    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for code, (path, required) in PLACEMENTS.items():
        if code in LEGACY_PLACEMENTS and not result.legacy_invoices:
            continue
        url = public_url.rstrip("/") + path
        if code not in offered_placements:
            if required and result.smart_invoices:
                raise PermanentError(N_("This Bitrix24 portal does not offer the %(code)s placement.", code=code),
                                     code="ERROR_PLACEMENT_NOT_FOUND",
                                     fix=N_("Smart invoices must be enabled in CRM, and the app needs the crm and "
                                            "placement scopes."))
            result.warnings.append(f"The portal does not offer {code}; skipped.")
            continue
        result.placements.append(code)
        if (code, url) not in bound_placements:
            commands[f"p_{code}"] = ("placement.bind", _binding(code, url, ledger_name))
    commands.update(retitle_commands(state.get("placements") or [], public_url, ledger_name))
    wanted_events = INVOICE_EVENTS + PARTY_EVENTS + APP_EVENTS
    if result.legacy_invoices:
        wanted_events += LEGACY_EVENTS
    for event in wanted_events:
        if event not in offered_events:
            result.warnings.append(f"The portal does not offer the event {event}; reconcile covers it.")
            continue
        result.events.append(event)
        if (event, handler, 0) not in bound_events:
            commands[f"e_{event}"] = ("event.bind", {"event": event, "handler": handler})
        if event not in APP_EVENTS and (event, "", 1) not in bound_events:
            commands[f"o_{event}"] = ("event.bind", {"event": event, "event_type": "offline",
                                                     "auth_connector": OFFLINE_CONNECTOR})
        elif event not in APP_EVENTS:
            result.offline_events.append(event)
    existing = ((state.get("fields") or {}).get("fields") or []) if state.ok("fields") else []
    # "": the field is there but the list does not say its title (the caller keeps the one it knows).
    result.sync_label = _existing_label(existing) if existing else sync_label(ledger_name)
    if not existing and result.smart_invoices:
        commands["uf"] = ("userfieldconfig.add", _sync_field_definition(result.sync_label))
    if result.legacy_invoices and not state.get("legacy_fields"):
        commands["uf_legacy"] = ("crm.invoice.userfield.add", _legacy_field_definition(result.sync_label))

    if not result.smart_invoices:
        _settle(client.batch_all(commands), commands, result)
        return result
    commands["item_fields"] = ("crm.item.fields", {"entityTypeId": SMART_INVOICE})
    reply = client.batch(commands)
    _settle(reply, commands, result)
    if "uf" in commands or not _sync_key(reply):  # the field was just made: read its key again
        fields = client.call("crm.item.fields", {"entityTypeId": SMART_INVOICE}).result
        result.sync_key = _sync_key_from(fields) or SYNC_FIELD_CAMEL
    else:
        result.sync_key = _sync_key(reply) or SYNC_FIELD_CAMEL
    return result


def _binding(code: str, url: str, ledger_name: str | None) -> dict[str, Any]:
    return {"PLACEMENT": code, "HANDLER": url, "TITLE": placement_title(code, ledger_name),
            "DESCRIPTION": sync_label(ledger_name)}


def retitle_commands(bound: list[Any], public_url: str, ledger_name: str | None) -> dict[str, tuple[str, dict]]:
    """Commands that give the app's bound places the connected ledger's name (a tab bound as
    "Accounting" before Xero was connected reads "Xero"). Bitrix24 has no placement.update
    (NOTES s5): unbind, then bind again, in this order in one batch. Never back to the
    neutral title: with no ledger named, nothing changes."""
    if not ledger_name:
        return {}
    commands: dict[str, tuple[str, dict]] = {}
    for binding in bound:
        code = str(binding.get("placement") or "") if isinstance(binding, dict) else ""
        url = public_url.rstrip("/") + PLACEMENTS[code][0] if code in PLACEMENTS else None
        if url is None or binding.get("handler") != url or binding.get("title") == placement_title(code, ledger_name):
            continue
        commands[f"u_{code}"] = ("placement.unbind", {"PLACEMENT": code, "HANDLER": url})
        commands[f"p_{code}"] = ("placement.bind", _binding(code, url, ledger_name))
    return commands


def retitle(client: Bitrix24Client, public_url: str, ledger_name: str) -> SetupResult:
    """Name the connected ledger in the titles of the places already bound (after a ledger
    is connected): two requests, or one when the titles already say it."""
    result = SetupResult(at=utcnow().isoformat())
    commands = retitle_commands(client.call("placement.get", {}).result or [], public_url, ledger_name)
    if commands:
        result.placements = [key[2:] for key in commands if key.startswith("p_")]
        _settle(client.batch(commands), commands, result)
    return result


def _settle(reply: BatchReply, commands: dict[str, Any], result: SetupResult) -> None:
    for key in commands:
        if key == "item_fields":
            continue
        error = reply.errors.get(key)
        if error is None:
            result.changed += 1
            if key.startswith("o_"):
                result.offline_events.append(key[2:])
            continue
        if _already(error, "already binded", "already exists"):
            if key.startswith("o_"):
                result.offline_events.append(key[2:])
            continue
        if key.startswith("o_") and error.code == "ACCESS_DENIED":
            # NOTES s4: offline events need an administrator; reconcile lists changes instead.
            if not any(w.startswith("Offline events") for w in result.warnings):
                result.warnings.append("Offline events need an administrator; reconcile lists changes instead.")
            continue
        if key.startswith("u_"):  # a title that stays as it was; the binding is still there
            result.warnings.append(f"{key[2:]}: {error.message}")
            continue
        if key.startswith("p_") and not PLACEMENTS[key[2:]][1]:
            result.placements.remove(key[2:])
            result.warnings.append(f"{key[2:]}: {error.message}")
            continue
        if key == "uf_legacy":
            result.warnings.append(f"Legacy invoices: {error.message}")
            continue
        raise error


def _sync_key(reply: BatchReply) -> str | None:
    return _sync_key_from(reply.get("item_fields")) if reply.ok("item_fields") else None


def _sync_key_from(result: Any) -> str | None:
    """NOTES s7: the item key of the UF is found by its ``upperName``."""
    fields = (result or {}).get("fields") if isinstance(result, dict) else None
    for key, spec in (fields or {}).items():
        if isinstance(spec, dict) and spec.get("upperName") == SYNC_FIELD:
            return key
    return None
