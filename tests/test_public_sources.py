"""Code and docs cite sources a reader of the project can open: public documentation pages
(docs/sources.md lists those behind the ``NOTES §n`` citations), never a notes file outside
the repository or a path on one machine."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = ("NOTES.md", "/work/", "/home/", "/root/")


def test_no_comment_or_page_points_at_a_private_file_or_a_machine_path():
    files = [*(ROOT / "bridge").rglob("*.py"), *(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(marker in line for marker in PRIVATE)]
    assert found == []


def test_the_sources_page_names_public_pages_for_every_system():
    page = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    for site in ("https://developer.xero.com/", "https://docs.bexio.com/", "https://apidocs.bitrix24.com/"):
        assert site in page
