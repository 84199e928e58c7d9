"""The Idempotency-Key header on PUT/POST (NOTES section 2).

A repeat with the same key and the same request within 6 minutes (sandbox time) gets the
stored response again, errors included; the same key with a different request is a 400;
after the window the key is forgotten. Keys are per app and organisation.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

WINDOW = 360.0
MAX_KEY_LENGTH = 128


@dataclass
class Stored:
    fingerprint: str
    status: int
    body: bytes
    mimetype: str
    at: float


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper(), path.lower(), query, ""):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], Stored] = {}

    def lookup(self, scope: tuple[str, str], key: str, now: float) -> Stored | None:
        entry = self.entries.get((*scope, key))
        if entry is not None and now > entry.at + WINDOW:
            del self.entries[(*scope, key)]
            return None
        return entry

    def save(self, scope: tuple[str, str], key: str, entry: Stored) -> None:
        self.entries[(*scope, key)] = entry
