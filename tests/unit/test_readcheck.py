"""Vetting the records a list answers with (``mapsync.connectors.readcheck``) and the transport's control
character check, without sockets."""

from __future__ import annotations

import pytest

from mapsync.connectors.base import TransientError
from mapsync.connectors.http.transport import check_endpoint, control_character
from mapsync.connectors.readcheck import INVALID_PREFIX, MAX_PAGES, ReadCheck, SeenIds


def _check(integer: bool = True) -> ReadCheck:
    return ReadCheck("webcrm", "organisation", "OrganisationId", integer_ids=integer)


@pytest.mark.parametrize("row", [
    {"OrganisationName": "no id"}, {"OrganisationId": None}, {"OrganisationId": ""}, {"OrganisationId": True},
    {"OrganisationId": {"x": 1}}, {"OrganisationId": [1]}, {"OrganisationId": 1.5}, {"OrganisationId": "abc"},
    {"OrganisationId": "1\x00"}, {"OrganisationId": "9" * 300}, ["not", "a", "record"], None, 42,
])
def test_a_row_without_a_usable_id_is_set_aside_with_a_reason(row: object) -> None:
    check = _check()
    assert check.key(row) is None
    [bad] = check.invalid
    assert bad.record_id.startswith(INVALID_PREFIX) and bad.reason


def test_the_same_record_twice_is_kept_once_and_two_records_under_one_id_are_both_set_aside() -> None:
    check = _check()
    assert check.key({"OrganisationId": 1, "OrganisationName": "A"}) == "1"
    assert check.key({"OrganisationId": 1, "OrganisationName": "A"}) is None  # served twice: kept once
    assert check.invalid == []
    assert check.key({"OrganisationId": 2, "OrganisationName": "B"}) == "2"
    assert check.key({"OrganisationId": 2, "OrganisationName": "Impostor"}) is None
    assert [b.record_id for b in check.invalid] == ["2"] and "two different" in check.invalid[0].reason
    assert check.keep("1") and not check.keep("2")  # the copy of 2 yielded first is dropped from the batch


def test_ids_read_long_ago_are_kept_on_disk_and_still_tell_a_repeat_from_an_impostor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SeenIds, "IN_MEMORY", 10)
    check = _check()
    assert [check.key({"OrganisationId": i, "OrganisationName": f"O{i}"}) for i in range(1, 36)] == [
        str(i) for i in range(1, 36)]
    assert check.key({"OrganisationId": 3, "OrganisationName": "O3"}) is None  # served twice, on disk by now
    assert check.invalid == [] and check.keep("3")
    assert check.key({"OrganisationId": 4, "OrganisationName": "Impostor"}) is None
    assert [b.record_id for b in check.invalid] == ["4"] and not check.keep("4")
    assert check.key({"OrganisationId": 34, "OrganisationName": "O34"}) is None  # still in memory
    assert check.key({"OrganisationId": 36, "OrganisationName": "O36"}) == "36"


def test_two_different_records_without_an_id_are_each_reported() -> None:
    check = _check()
    check.key({"OrganisationId": None, "OrganisationName": "A"})
    check.key({"OrganisationId": None, "OrganisationName": "B"})
    assert len(check.invalid) == 2 and "OrganisationName 'A'" in check.invalid[0].reason


def test_a_repeated_page_ends_the_read_and_endless_pages_fail_it() -> None:
    check = _check()
    assert check.more_pages([{"OrganisationId": 1}], "/Organisations")
    assert not check.more_pages([{"OrganisationId": 1}], "/Organisations")
    assert "ignores the paging" in check.warnings[0]
    endless = _check()
    with pytest.raises(TransientError, match="more than"):
        for page in range(MAX_PAGES + 1):
            endless.more_pages([{"OrganisationId": page}], "/Organisations")


def test_string_ids_where_the_system_allows_them() -> None:
    check = ReadCheck("fortnox", "customer", "CustomerNumber", integer_ids=False)
    assert check.key({"CustomerNumber": "K-100"}) == "K-100"


@pytest.mark.parametrize(("payload", "where"), [
    ({"Name": "A\x00B"}, "Name"), ({"Rows": [{"Text": "ok"}, {"Text": "\x1b[31m"}]}, "Rows[1].Text"),
    ({"a": {"b": "\x7f"}}, "a.b"),
])
def test_control_characters_are_found(payload: object, where: str) -> None:
    assert control_character(payload) is not None and control_character(payload)[0] == where  # type: ignore[index]


def test_tabs_and_newlines_are_text() -> None:
    assert control_character({"Name": "a\tb\r\nc", "n": 5, "x": None}) is None


def test_endpoints() -> None:
    check_endpoint("https://api.fortnox.se/3", "x")
    check_endpoint("http://127.0.0.1:5000", "x")
    with pytest.raises(Exception, match="plain http"):
        check_endpoint("http://api.fortnox.se", "x")
