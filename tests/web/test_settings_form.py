"""The one settings engine both settings pages read their forms with (bridge/web/settings_form.py)."""
import pytest
from werkzeug.datastructures import MultiDict

from bridge.settings import SECTIONS
from bridge.web.settings_form import FORM_ERROR, SectionForm, rows, widget

INVOICES = ("numbering", "sent_when", "void_authorised_on_cancel")


def defaults(section: str) -> dict:
    return SECTIONS[section]().model_dump(mode="json")


def test_every_field_of_every_section_names_its_widget(app):
    for section, model in SECTIONS.items():
        for field in model.model_fields:
            assert widget(section, field)["widget"], f"{section}.{field}"


def test_both_platforms_naming_reads_the_same_section():
    bare = SectionForm("invoices", INVOICES)
    qualified = SectionForm("invoices", INVOICES, qualified=True)
    posted = {"numbering": "platform", "sent_when": "approved", "void_authorised_on_cancel": "on"}
    from_bitrix24 = bare.read(MultiDict(posted), defaults("invoices"))
    from_dg1 = qualified.read(MultiDict({f"invoices.{k}": v for k, v in posted.items()}), defaults("invoices"))
    assert from_bitrix24 == from_dg1
    assert (from_dg1["numbering"], from_dg1["sent_when"], from_dg1["void_authorised_on_cancel"]) == (
        "platform", "approved", True)
    assert from_dg1["due_days"] == 14  # a field the form does not show keeps its value


def test_an_unchecked_box_is_off_and_a_field_not_posted_keeps_its_value():
    form = SectionForm("invoices", INVOICES)
    current = {**defaults("invoices"), "numbering": "platform", "void_authorised_on_cancel": True}
    data = form.read(MultiDict({"sent_when": "approved"}), current)
    assert data["void_authorised_on_cancel"] is False and data["numbering"] == "platform"
    # Only what a browser posts for a ticked box ticks it, on both platforms.
    assert form.read(MultiDict({"void_authorised_on_cancel": "true"}), current)["void_authorised_on_cancel"] is False


def test_an_empty_choice_is_none_where_none_is_a_value():
    form = SectionForm("mapping", ("tax_none", "default_sales_account"))
    data = form.read(MultiDict({"tax_none": "", "default_sales_account": "200"}), {**defaults("mapping"), "tax_none": "X"})
    assert data["tax_none"] is None and data["default_sales_account"] == "200"


def test_a_form_name_hint_renames_the_field_on_the_form():
    form = SectionForm("party_import", ("daily", "include_suppliers"))
    assert form.name("daily") == "import_daily"
    assert form.read(MultiDict({"import_daily": "on"}), defaults("party_import")) == {
        "daily": True, "include_suppliers": False}


@pytest.mark.parametrize("posted", [
    MultiDict([("tax_rate", "8.1"), ("tax_code", "UN81"), ("tax_rate", " 7.7 "), ("tax_code", "UN77"),
               ("tax_rate", ""), ("tax_code", "")]),
    MultiDict({"tax_rate.0": "8.1", "tax_code.0": "UN81", "tax_rate.1": " 7.7 ", "tax_code.1": "UN77",
               "tax_rate.2": "", "tax_code.2": ""}),
], ids=["repeated names", "numbered names"])
def test_a_table_reads_the_same_posted_either_way_without_its_blank_rows(posted):
    assert [(r.index, r.key) for r in rows(posted, "tax_rate", "tax_code")] == [(0, "8.1"), (1, " 7.7 "), (2, "")]
    data = SectionForm("mapping", ("tax_rates",)).read(posted, defaults("mapping"))
    assert data["tax_rates"] == {"8.1": "UN81", "7.7": "UN77"}


def test_one_select_per_listed_key(app):
    posted = MultiDict({"stage:DT31_1:N": "authorised", "stage:DT31_1:P": "", "token": "t"})
    assert SectionForm("bitrix24_stages", ("stage_map",)).read(posted, {"stage_map": {}}) == {
        "stage_map": {"DT31_1:N": "authorised"}}


def test_a_whole_number_field_reads_digits_only(app):
    form = SectionForm("bexio", ("user_id",), qualified=True)
    assert form.read(MultiDict({"bexio.user_id": "101"}), defaults("bexio"))["user_id"] == 101
    assert form.read(MultiDict({"bexio.user_id": ""}), defaults("bexio"))["user_id"] is None


def test_errors_come_back_under_the_form_name_of_their_field(app):
    bare = SectionForm("invoices", INVOICES)
    assert set(bare.errors({**defaults("invoices"), "numbering": "sometimes"})) == {"numbering"}
    bexio = SectionForm("bexio", ("currency",), qualified=True)
    assert "three-letter" in bexio.errors({**defaults("bexio"), "currency": "Swiss francs"})["bexio.currency"]
    mapping = SectionForm("mapping", ("tax_rates",))
    assert set(mapping.named({"tax_rates.abc": "not a rate", "": "whole"})) == {"tax_rates", FORM_ERROR}


def draw(app, form: SectionForm, field: str, value, errors: dict, **options) -> str:
    """The ``field`` macro of the one macro set, as both settings pages call it."""
    with app.test_request_context():
        template = app.jinja_env.from_string(
            '{% from "_settings_macros.html" import field with context %}'
            "{{ field(form, name, 'Label', value, options, empty) }}")
        return template.render(form=form, name=field, value=value, errors=errors,
                               options=options.get("options"), empty=options.get("empty"))


def test_a_field_is_drawn_by_its_widget_with_its_error_beside_it_the_same_way_on_both_platforms(app):
    bare, qualified = SectionForm("invoices", INVOICES), SectionForm("invoices", INVOICES, qualified=True)
    choices = {"options": [("ledger", "The ledger"), ("platform", "The platform")]}
    on_bitrix24 = draw(app, bare, "numbering", "platform", {"numbering": "Choose one."}, **choices)
    on_dg1 = draw(app, qualified, "numbering", "platform", {"invoices.numbering": "Choose one."}, **choices)
    assert '<select id="numbering" name="numbering" aria-invalid="true" aria-describedby="err-numbering">' in on_bitrix24
    assert '<option value="platform" selected>The platform</option>' in on_bitrix24
    assert '<p class="error" id="err-numbering">Choose one.</p>' in on_bitrix24
    assert on_dg1 == on_bitrix24.replace("numbering", "invoices.numbering").replace(
        "err-invoices.numbering", "err-invoices-numbering")
    box = draw(app, bare, "void_authorised_on_cancel", True, {})
    assert '<input type="checkbox" id="void_authorised_on_cancel" name="void_authorised_on_cancel" checked>' in box
    assert 'class="error"' not in box and "aria-invalid" not in box
    number = draw(app, SectionForm("invoices", ("due_days",)), "due_days", 14, {"due_days": "At most 365."})
    assert 'name="due_days" value="14" inputmode="numeric" aria-invalid="true"' in number
    assert '<p class="error" id="err-due_days">At most 365.</p>' in number
