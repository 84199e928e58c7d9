"""Commands in the README and docs/ are written as a new user types them in the project
folder: a `make` target or the virtualenv's `.venv/bin/flask` (`make install` makes it).
A bare `flask ...` is not on a new user's PATH, or is another Flask without bridge's commands."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `flask` as a command: at the start of a code span or a line in a code block, not a path's tail.
BARE_FLASK = re.compile(r"(?:^[ \t]*|`|\$ )flask (?=[a-z-]+)", re.MULTILINE)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_no_document_tells_a_bare_flask_command():
    found = [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
             for path in documents() for text in [path.read_text(encoding="utf-8")]
             for match in BARE_FLASK.finditer(text)]
    assert not found, "write `.venv/bin/flask --app app ...` (or a make target) at: " + ", ".join(found)


def test_the_check_sees_a_bare_command_and_passes_the_virtualenvs():
    assert BARE_FLASK.search("run `flask operator create x`")
    assert BARE_FLASK.search("```sh\nflask dg1 add-tenant\n```")
    assert BARE_FLASK.search("1. Register it:\n   ```sh\n   flask bitrix24 webhook URL\n   ```")
    assert not BARE_FLASK.search("run `.venv/bin/flask --app app operator create x`")
