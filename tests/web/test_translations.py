"""A German portal never meets an English sentence bridge could have translated.

Pages follow the portal's language (``bridge/web/i18n.py``), and gettext quietly falls back
to the English text for a message the catalogue lacks, leaves empty or marks fuzzy (a
fuzzy entry is a guess ``pybabel update`` made from an older text, which the compiled
catalogue skips). So the messages are taken from the code and templates themselves, as
``make translations`` extracts them, and each must have a checked German translation
that keeps its placeholders and is in the compiled ``.mo`` the app loads.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bridge.domain import InvoiceStatus
from bridge.web.i18n import FLOW_WORDS, STATUS_WORDS

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "translations" / "de" / "LC_MESSAGES"
# As the Makefile's `translations` target: the default keywords plus these.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def messages_in_the_code() -> dict[str, list[str]]:
    """Every message id the code and templates mark for translation, with where it is."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def untranslated(catalog, msgids) -> list[str]:
    """The ids the catalogue lacks, leaves (partly) empty or marks fuzzy."""
    missing = []
    for msgid in msgids:
        entry = catalog.get(msgid)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else \
            (entry.string,) if entry is not None else ("",)
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(msgid)
    return missing


@pytest.fixture(scope="module")
def german():
    with open(CATALOGUE / "messages.po", "rb") as po:
        return read_po(po, locale="de")


def test_every_message_in_the_code_has_a_checked_german_translation(german):
    found = messages_in_the_code()
    assert len(found) > 300, "the extraction found almost nothing: check babel.cfg"
    missing = untranslated(german, found)
    assert not missing, ("Untranslated or fuzzy in translations/de (run `make translations`, translate, remove "
                         "`#, fuzzy` once checked):\n" + "\n".join(f"{m!r} at {found[m][0]}" for m in missing))


def test_a_fuzzy_or_empty_entry_counts_as_untranslated():
    """The check above sees what gettext would not use."""
    with open(CATALOGUE / "messages.po", "rb") as po:
        german = read_po(po, locale="de")  # a copy of its own: this test changes it
    entry = next(m for m in german if m.id == "Synced.")
    assert untranslated(german, ["Synced."]) == []
    entry.flags.add("fuzzy")
    assert untranslated(german, ["Synced."]) == ["Synced."]
    entry.flags.discard("fuzzy")
    entry.string = ""
    assert untranslated(german, ["Synced.", "A sentence nobody translated."]) == [
        "Synced.", "A sentence nobody translated."]


def test_every_invoice_status_a_stage_can_mean_has_a_word():
    """The stage mapping offers every status by its word (``status_word``); one without a
    word would show its code, in English, on a German page."""
    assert set(STATUS_WORDS) == {status.value for status in InvoiceStatus}


def test_every_flow_has_a_word(app):
    """The sync log and the operator console name a record's flow by its word (``flow_word``):
    a new flow without one would show its code, in English, on a German page."""
    from bridge.engine import FLOWS  # registered as the app loads its flows

    assert set(FLOWS) <= set(FLOW_WORDS), sorted(set(FLOWS) - set(FLOW_WORDS))


def test_german_translations_keep_their_placeholders():
    with open(CATALOGUE / "messages.po", "rb") as po:
        catalog = read_po(po, locale="de")
    problems = [f"{message.id!r}: {'; '.join(str(e) for e in errors)}" for message, errors in catalog.check()]
    assert not problems, "\n".join(problems)


def test_the_compiled_catalogue_is_the_translated_one(german):
    """The app reads the .mo: a translation not compiled (`pybabel compile`) is not shown."""
    with open(CATALOGUE / "messages.mo", "rb") as mo:
        compiled = read_mo(mo)
    stale = [m.id for m in german if m.id and not m.fuzzy and _strings(compiled.get(m.id)) != _strings(m)]
    assert not stale, "Not compiled into messages.mo (run `make translations`):\n" + "\n".join(map(repr, stale))


def _strings(message) -> tuple[str, ...] | None:
    """A message's translation(s) as a tuple (``.mo`` gives lists, ``.po`` tuples or text)."""
    if message is None:
        return None
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


# The DG1 admin and the Bexio connection pages serve Swiss shops: their words (the pages, the
# messages their code and connectors raise, the shared page parts and state words they show,
# the reconciliation report the DG1 admin opens and its differences and actions) must be in
# French as well as German.
SHOP_SOURCES = ("templates/dg1/", "templates/bexio/", "templates/base.html", "templates/error.html",
                "templates/_settings_macros.html", "templates/_preview.html", "bridge/web/preview_table.py",
                "bridge/web/dg1/", "bridge/web/bexio/", "bridge/web/settings_form.py", "bridge/web/error_pages.py",
                "bridge/connectors/dg1/", "bridge/connectors/bexio/", "bridge/messages.py",
                "templates/_report.html", "bridge/web/report_page.py", "bridge/sync/reconciliation.py",
                "bridge/sync/report_actions.py", "bridge/sync/report_run.py")
FRENCH = ROOT / "translations" / "fr" / "LC_MESSAGES"


def shop_messages(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {msgid: places for msgid, places in found.items()
            if any(place.replace("\\", "/").startswith(SHOP_SOURCES) for place in places)}


def test_the_dg1_and_bexio_pages_have_checked_french_and_german_translations(german):
    shop = shop_messages(messages_in_the_code())
    assert len(shop) > 100, "the DG1 and Bexio pages' messages were not found: check SHOP_SOURCES"
    with open(FRENCH / "messages.po", "rb") as po:
        french = read_po(po, locale="fr")
    for language, catalog in (("fr", french), ("de", german)):
        missing = untranslated(catalog, shop)
        assert not missing, (f"Untranslated or fuzzy in translations/{language} (run `make translations`, translate):\n"
                             + "\n".join(f"{m!r} at {shop[m][0]}" for m in missing))


def test_french_translations_keep_their_placeholders_and_are_compiled():
    with open(FRENCH / "messages.po", "rb") as po:
        catalog = read_po(po, locale="fr")
    problems = [f"{message.id!r}: {'; '.join(str(e) for e in errors)}" for message, errors in catalog.check()]
    assert not problems, "\n".join(problems)
    with open(FRENCH / "messages.mo", "rb") as mo:
        compiled = read_mo(mo)
    stale = [m.id for m in catalog if m.id and any(_strings(m)) and not m.fuzzy and _strings(compiled.get(m.id)) != _strings(m)]
    assert not stale, "Not compiled into messages.mo (run `make translations`):\n" + "\n".join(map(repr, stale))
