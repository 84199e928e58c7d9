"""Whole numbers from requests: what str.isdigit() lets through must not become a 500."""
from __future__ import annotations

import pytest

from bridge.numbers import MAX_ID, page_number, whole_number


@pytest.mark.parametrize("text, number", [("0", 0), ("42", 42), (str(MAX_ID), MAX_ID), (7, 7)])
def test_whole_numbers_are_read(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize("text", ["", None, "²", "①", "٣", "-1", "+1", " 1", "1.0", "1e3", "9" * 5000,
                                  str(MAX_ID + 1)])
def test_anything_else_is_none_never_an_exception(text):
    assert whole_number(text) is None


def test_a_page_is_one_unless_it_is_a_page_number():
    assert [page_number(p) for p in ("3", "0", "", None, "²", "9" * 30)] == [3, 1, 1, 1, 1, 1]
