"""The one home of Xero's contact identity rules, applied to a pool of candidate contacts.

The pool is filled from the local contact index (``ContactPool``, no call for a known
customer) or, where an organisation has no index, by live lookups as the rules ask
(``LivePool``): either way ``match`` decides. The rules (NOTES 4, lesson 4): link ->
ContactNumber -> e-mail -> exact name, where a same-name contact is ours only if its e-mail
equals ours or it has none, and any other same-name contact gives ours a distinguishing
name and a warning.
A contact carrying another ContactNumber belongs to another record and is never taken;
nor is one that bridge's links give to another customer (``taken``: a contact imported from
Xero carries no ContactNumber, so only the link says whose it is, e.g. a company's contact
for its own contact person invoiced alone). Such a contact is someone else's: ours is
created beside it, with a distinguishing name if it must.

Matching a batch adds one rule: what an earlier customer of the same batch claims (a
contact it takes over, a name it will be created with) is taken for the later ones, exactly
as if the earlier write had already happened.
"""
from __future__ import annotations

from typing import Any, Callable

from ...domain import Party
from ...ports import PartyMatch
from . import mapper
from .client import where_string
from .contact_index import email_key, name_key

MAX_ATTEMPTS = 5


def candidate_names(party: Party) -> list[str]:
    """The name and the distinguishing names a customer may be created with, in order."""
    return [mapper.party_name(party)] + [mapper.disambiguated_name(party, n) for n in range(1, MAX_ATTEMPTS)]


class ContactPool:
    """Contacts known for this batch, by id, ContactNumber, e-mail and (active) name."""

    def __init__(self, contacts: list[dict[str, Any]]) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        for contact in contacts:
            self.add(contact)
        self.claimed_names: set[str] = set()

    def add(self, contact: dict[str, Any]) -> None:
        if contact.get("ContactID"):
            self.by_id[contact["ContactID"]] = dict(contact)

    def _all(self) -> list[dict[str, Any]]:
        return list(self.by_id.values())

    def linked(self, contact_id: str) -> dict[str, Any] | None:
        return self.by_id.get(contact_id)

    def by_number(self, number: str) -> dict[str, Any] | None:
        return next((c for c in self._all() if c.get("ContactNumber") == number), None)

    def by_email(self, email: str) -> list[dict[str, Any]]:
        return [c for c in self._all() if email_key(c.get("EmailAddress")) == email_key(email)
                and c.get("ContactStatus", "ACTIVE") == "ACTIVE"]

    def active_named(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self._all() if name_key(c.get("Name")) == name_key(name)
                     and c.get("ContactStatus", "ACTIVE") == "ACTIVE"), None)


def claimable(contact: dict[str, Any], number: str) -> bool:
    return not contact.get("ContactNumber") or contact.get("ContactNumber") == number


def match(pool: ContactPool, party: Party, linked_ledger_id: str | None,
          taken: Callable[[str], bool] | None = None) -> PartyMatch:
    """One customer against the pool; records its claim so later customers see it.
    ``taken(contact_id)``: the contact belongs to another customer (the flow's links)."""
    name = mapper.party_name(party)
    number = mapper.contact_number(party.key)
    result = _match(pool, party, linked_ledger_id, name, number, taken or (lambda contact_id: False))
    if result.ledger_id:
        contact = pool.by_id[result.ledger_id]
        contact.setdefault("ContactNumber", None)
        contact["ContactNumber"] = contact["ContactNumber"] or number  # our save will write it
    else:
        pool.claimed_names.add(name_key(result.name))
    return result


def _match(pool: ContactPool, party: Party, linked_ledger_id: str | None, name: str, number: str,
           taken: Callable[[str], bool]) -> PartyMatch:
    linked = pool.linked(linked_ledger_id) if linked_ledger_id else None
    if linked is not None:
        return PartyMatch(linked["ContactID"], name, "link")
    contact = pool.by_number(number)
    if contact is not None:
        return PartyMatch(contact["ContactID"], name, "external_key")
    if party.email:
        candidates = [c for c in pool.by_email(party.email) if claimable(c, number) and not taken(c["ContactID"])]
        if candidates:
            best = next((c for c in candidates if name_key(c.get("Name")) == name.lower()), candidates[0])
            return PartyMatch(best["ContactID"], name, "email")
    attempt, candidate = 1, name
    while True:
        clash = pool.active_named(candidate)
        taken_name = name_key(candidate) in pool.claimed_names
        if clash is None and not taken_name:
            break
        if clash is not None and not taken_name and claimable(clash, number) and not taken(clash["ContactID"]) and (
                not clash.get("EmailAddress") or email_key(clash.get("EmailAddress")) == email_key(party.email)):
            if candidate == name:
                return PartyMatch(clash["ContactID"], name, "name")
            break
        candidate = mapper.disambiguated_name(party, attempt)
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            break
    if candidate == name:
        return PartyMatch(None, name)
    return PartyMatch(None, candidate, warning=(
        f"Another Xero contact is already called \"{name}\", so this customer was created as "
        f"\"{candidate}\". Rename either one in Xero if you prefer."))


class LivePool(ContactPool):
    """A pool filled by asking Xero, as the rules need each candidate: the contact by its
    id (the link), by our ContactNumber, those with the customer's e-mail, the active one
    with each name tried; every answer is handed to ``remember`` as Xero sent it (the
    ledger compares its updates with those). A contact already in the pool keeps the
    batch's claims on it. Each question is asked once per pool."""

    def __init__(self, client: Any, remember: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__([])
        self.client = client
        self.remember = remember
        self._asked: dict[tuple[str, str], list[str]] = {}

    def _ask(self, question: tuple[str, str], read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The pool's copies of the contacts Xero answered ``question`` with, in its order."""
        if question not in self._asked:
            answered = [c for c in read() if c and c.get("ContactID")]
            for contact in answered:
                self.remember(contact)
                if contact["ContactID"] not in self.by_id:
                    self.add(contact)
            self._asked[question] = [c["ContactID"] for c in answered]
        return [self.by_id[contact_id] for contact_id in self._asked[question]]

    def _one(self, id_or_number: str) -> list[dict[str, Any]]:
        contact = self.client.get_contact(id_or_number)
        return [contact] if contact else []

    def linked(self, contact_id: str) -> dict[str, Any] | None:
        return next(iter(self._ask(("id", contact_id), lambda: self._one(contact_id))), None)

    def by_number(self, number: str) -> dict[str, Any] | None:
        return next((c for c in self._ask(("number", number), lambda: self._one(number))
                     if c.get("ContactNumber") == number), None)

    def by_email(self, email: str) -> list[dict[str, Any]]:
        found = self._ask(("email", email_key(email)),
                          lambda: self.client.find_contacts(f"EmailAddress=={where_string(email)}"))
        return [c for c in found if email_key(c.get("EmailAddress")) == email_key(email)
                and c.get("ContactStatus", "ACTIVE") == "ACTIVE"]

    def active_named(self, name: str) -> dict[str, Any] | None:
        found = self._ask(("name", name_key(name)), lambda: self.client.find_contacts(f"Name=={where_string(name)}"))
        return next((c for c in found if name_key(c.get("Name")) == name_key(name)
                     and c.get("ContactStatus", "ACTIVE") == "ACTIVE"), None)


def where_any(party_terms: list[tuple[str, str]]) -> str:
    """``Field=="value" OR ...`` for one chunked lookup (values quoted for Xero's where)."""
    return " OR ".join(f"{field}=={where_string(value)}" for field, value in party_terms)
