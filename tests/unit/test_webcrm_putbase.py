"""``mapsync.connectors.webcrm.putbase``: the freshness check's script and which written values webCRM keeps as
sent (no read-back needed)."""

from __future__ import annotations

import pytest

from mapsync.connectors.catalogue import FieldInfo, load_catalogue
from mapsync.connectors.webcrm.putbase import (
    ServedRow,
    ServedRows,
    all_stored_as_sent,
    check_script,
    newest_stamp,
    stored_as_sent,
)

STRING = FieldInfo("S", "string", max_length=50)
ENUM = FieldInfo("E", "string", enum=("Active", "Resigned"))


def test_check_script_asks_each_page_from_its_own_mark() -> None:
    covered = {
        5: ServedRow({}, 0.0, "2026-01-01T10:00:00.000Z"),
        9: ServedRow({}, 0.0, "2026-01-01T10:00:00.000Z"),
        7: ServedRow({}, 0.0, "2026-01-01T11:00:00.000Z"),  # another page, ids interleaved
        12: ServedRow({}, 0.0, None),  # a page without stamps: the client's clock
    }
    script = check_script("Organisation", "OrganisationId", "OrganisationUpdatedAt", covered, "2026-01-01T09:58:00Z")
    assert script == (
        "SELECT * FROM Organisation WHERE "
        "(OrganisationId >= '5' AND OrganisationId <= '9' AND OrganisationUpdatedAt >= '2026-01-01T10:00:00.000Z') OR "
        "(OrganisationId >= '7' AND OrganisationId <= '7' AND OrganisationUpdatedAt >= '2026-01-01T11:00:00.000Z') OR "
        "(OrganisationId >= '12' AND OrganisationId <= '12' AND OrganisationUpdatedAt >= '2026-01-01T09:58:00Z') "
        "ORDER BY OrganisationId ASC"
    )


def test_newest_stamp_compares_instants_and_keeps_the_text() -> None:
    rows = [{"U": "2026-01-01T10:00:00+02:00"}, {"U": "2026-01-01T09:00:00Z"}, {"U": None}, {"U": "bad"}, "x"]
    assert newest_stamp(rows, "U") == "2026-01-01T09:00:00Z"  # 09:00Z is after 08:00Z
    assert newest_stamp([{"U": None}], "U") is None


@pytest.mark.parametrize(("info", "value", "kept"), [
    (STRING, "K-1", True),
    (STRING, None, True),
    (STRING, 12345, False),  # webCRM stores "12345"
    (ENUM, "Active", True),
    (ENUM, "active", False),  # webCRM answers its own spelling
    (FieldInfo("I", "integer"), 3, True),
    (FieldInfo("I", "integer"), None, False),  # stored as 0
    (FieldInfo("I", "integer"), True, False),
    (FieldInfo("N", "number"), 2.5, True),
    (FieldInfo("N", "number"), 2.0, False),  # may come back as 2
    (FieldInfo("B", "boolean"), False, True),
    (FieldInfo("D", "datetime"), "2026-01-01", False),
    (FieldInfo("R", "string", read_only=True), "x", False),
    (None, "x", False),  # unknown to webCRM: ignored on write
])
def test_stored_as_sent(info: FieldInfo | None, value: object, kept: bool) -> None:
    assert stored_as_sent(info, value) is kept


def test_all_stored_as_sent_by_the_catalogue() -> None:
    organisation = load_catalogue("webcrm").entity("organisation")
    assert all_stored_as_sent(organisation, {"OrganisationExtraCustom1": "10001", "OrganisationCity": None})
    assert not all_stored_as_sent(organisation, {"OrganisationExtraCustom1": "10001", "NoSuchField": "x"})
    assert not all_stored_as_sent(None, {})


def test_served_rows_are_bounded_and_confirmed_by_a_check() -> None:
    rows = ServedRows(capacity=2)
    for key in (1, 2, 3):
        rows.remember("organisation", key, {"OrganisationId": key}, 10.0, None)
    assert rows.take("organisation", 1) is None  # the oldest was dropped
    rows.confirm("organisation", {2, 3}, 20.0, {3: {"OrganisationId": 3, "OrganisationCity": "new"}})
    two, three = rows.take("organisation", 2), rows.take("organisation", 3)
    assert two is not None and two.as_of == 20.0
    assert three is not None and three.as_of == 20.0 and three.record["OrganisationCity"] == "new"
    rows.learn_fields("organisation", {"OrganisationId": 1, "OrganisationCity": None})
    assert rows.complete("organisation", {"OrganisationId": 1, "OrganisationCity": "x", "More": 1})
    assert not rows.complete("organisation", {"OrganisationId": 1})
    assert not rows.complete("person", {"PersonId": 1})  # nothing learnt yet: GET first
