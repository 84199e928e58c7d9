"""RFC 7807 error bodies (``application/problem+json``), the only error shape DG1 sends."""
from __future__ import annotations

import json
from typing import Any

from flask import Response, request

PROBLEM_BASE = "https://api.dg1.ch/problems/"


class Problem(Exception):
    """Raise anywhere in a request; the blueprint's handler turns it into the response."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> Response:
        body: dict[str, Any] = {"type": PROBLEM_BASE + self.slug, "title": self.title,
                                "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        # The path as DG1 sees it, without the sandbox's /<host> prefix.
        body["instance"] = request.path.removeprefix("/api.dg1.ch")
        body.update(self.extra)
        return Response(json.dumps(body), status=self.status, headers=self.headers,
                        mimetype="application/problem+json")
