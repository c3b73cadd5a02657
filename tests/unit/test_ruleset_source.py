"""engine.ruleset.source: YAML with positions, duplicate keys, encodings; problems are diagnostics, never raised."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsync.engine.ruleset.source import MAX_DEPTH, MAX_NODES, SourceDocument, json_path, parse_text, read_source

TEXT = """\
# a comment
name: customers
fields:
  - crm: OrganisationName
    erp: Name
  - {crm: OrganisationCity, erp: City}
map: {"a b": 1}
"""


def _codes(doc: SourceDocument) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.column) for d in doc.diagnostics]


def test_positions_of_values_and_keys() -> None:
    doc = parse_text(TEXT, "f.yaml")
    assert doc.diagnostics == []
    assert doc.data["fields"][1] == {"crm": "OrganisationCity", "erp": "City"}
    assert doc.values[("name",)] == (2, 7)
    assert doc.keys[("name",)] == (2, 1)
    assert doc.values[("fields", 0, "erp")] == (5, 10)
    assert doc.keys[("fields", 0, "erp")] == (5, 5)
    assert doc.values[("fields", 1, "erp")] == (6, 34)
    assert doc.values[("map", "a b")] == (7, 14)


def test_location_falls_back_to_the_nearest_parent() -> None:
    doc = parse_text(TEXT, "f.yaml")
    loc = doc.location(("fields", 0, "direction"))
    assert (loc.line, loc.column, loc.json_path) == (4, 5, "$.fields[0].direction")
    key = doc.location(("fields", 0, "erp"), key=True)
    assert (key.line, key.column) == (5, 5)
    assert doc.location(("nothing", "here")).line == 2  # the root mapping starts at line 2


def test_json_path() -> None:
    assert json_path(()) == "$"
    assert json_path(("fields", 2, "crm")) == "$.fields[2].crm"
    assert json_path(("map", "Private Customer")) == "$.map['Private Customer']"


def test_duplicate_keys_reported_at_the_second_key() -> None:
    doc = parse_text("name: a\ncrm: x\nname: b\nnested:\n  k: 1\n  k: 2\n", "f.yaml")
    assert _codes(doc) == [("MS103", 3, 1), ("MS103", 6, 3)]
    assert "first at line 1" in doc.diagnostics[0].message
    assert doc.diagnostics[1].location.json_path == "$.nested.k"
    assert doc.data == {"name": "b", "crm": "x", "nested": {"k": 2}}  # YAML keeps the last


@pytest.mark.parametrize(("text", "code", "line", "column"), [
    ("a: [1, 2\nb: 3\n", "MS101", 1, 4),  # at the bracket left open
    ("a: 1\n b: 2\n", "MS101", 2, 2),  # at the line indented under a key that has a value
    ("a: 'open\n", "MS101", 1, 4),  # at the quote left open
    ("a: 2024-02-30\n", "MS101", 1, 4),  # looks like a date, is not one
    ("a: 1\nb: !!int twelve\n", "MS101", 2, 4),
    ("a: !!timestamp 2020\n", "MS101", 1, 4),
    ("a: !!python/object:os.system x\n", "MS101", 1, 4),  # the safe loader refuses it
    ("a: 1\n---\nb: 2\n", "MS101", 2, 1),
    ("x: 1\ny: a\x07b\n", "MS101", 2, 5),  # a control character
    ("", "MS107", 1, 1),
    ("# only a comment\n", "MS107", 1, 1),
    ("---\n", "MS107", 1, 1),
    ("- a\n- b\n", "MS107", 1, 1),
    ("just text\n", "MS107", 1, 1),
])
def test_problems_are_located(text: str, code: str, line: int, column: int) -> None:
    doc = parse_text(text, "f.yaml")
    assert doc.data is None
    assert _codes(doc) == [(code, line, column)]


def test_top_level_message_names_the_kind() -> None:
    assert "a list" in parse_text("- a\n", "f").diagnostics[0].message
    assert "empty" in parse_text("---\n", "f").diagnostics[0].message


def test_recursive_alias_is_reported_not_followed() -> None:
    doc = parse_text("a: &loop\n  - 1\n  - *loop\n", "f.yaml")
    assert _codes(doc) == [("MS101", 1, 4)]  # the anchored node
    assert "recursive" in doc.diagnostics[0].message


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    doc = parse_text("\n".join(lines) + "\n", "f.yaml")
    assert doc.data is None
    assert [d.code for d in doc.diagnostics] == ["MS101"]
    assert str(MAX_NODES) in doc.diagnostics[0].message


def test_keys_that_are_not_texts() -> None:
    doc = parse_text("map: {1: a, null: b, 2024-01-02: c, '1': d}\n", "f.yaml")
    assert doc.diagnostics == []
    keys = list(doc.data["map"])
    assert keys[0] == 1 and keys[1] is None and keys[3] == "1"
    assert doc.values[("map", 1)] == (1, 10) and doc.values[("map", None)] == (1, 19)
    assert doc.location(("map", None)).json_path == "$.map[None]"


def test_keys_equal_once_read_are_duplicates() -> None:
    doc = parse_text("map: {1: a, true: b}\nx: {0x1f: 1, 31: 2}\n", "f.yaml")
    assert _codes(doc) == [("MS103", 1, 13), ("MS103", 2, 14)]


def test_bad_key_value_is_reported_once_with_its_reason() -> None:
    doc = parse_text("a: 1\n!!int x: 2\n", "f.yaml")
    assert _codes(doc) == [("MS101", 2, 1)] and "as a whole number" in doc.diagnostics[0].message


def test_merge_keys() -> None:
    doc = parse_text("base: &b {k: 1, j: 1}\nuse:\n  <<: *b\n  j: 2\n", "f.yaml")
    assert doc.diagnostics == [] and doc.data["use"] == {"k": 1, "j": 2}


@pytest.mark.parametrize("text", ["a: " + "[" * 3000 + "]" * 3000, "a: " + "[" * 70 + "]" * 70,
                                  "a:\n" + "".join("  " * i + "- \n" for i in range(2000))])
def test_absurd_nesting_is_refused(text: str) -> None:
    doc = parse_text(text, "f.yaml")
    assert doc.data is None and [d.code for d in doc.diagnostics] == ["MS101"]
    assert f"more than {MAX_DEPTH} levels" in doc.diagnostics[0].message


def test_aliases_keep_working() -> None:
    doc = parse_text("a: &m {x: 1}\nb: *m\n", "f.yaml")
    assert doc.diagnostics == [] and doc.data["b"] == {"x": 1}
    assert doc.values[("b", "x")] == (1, 11)  # the position in the anchored node


# -- reading files and encodings ----------------------------------------------------------------------------------

BODY = "name: customers\ndescription: Göteborg, Malmö → Åre\n"


@pytest.mark.parametrize("raw", [
    BODY.encode("utf-8"),
    codecs.BOM_UTF8 + BODY.encode("utf-8"),
    BODY.encode("utf-16"),  # with a BOM (little-endian here)
    codecs.BOM_UTF16_BE + BODY.encode("utf-16-be"),
    codecs.BOM_UTF16_LE + BODY.encode("utf-16-le"),
], ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-be", "utf-16-le"])
def test_accepted_encodings(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(raw)
    doc = read_source(path)
    assert doc.diagnostics == []
    assert doc.data == {"name": "customers", "description": "Göteborg, Malmö → Åre"}
    assert doc.values[("description",)] == (2, 14)  # a BOM does not shift columns


@pytest.mark.parametrize(("raw", "line", "column"), [
    ("name: customers\ndescription: Göteborg\n".encode("latin-1"), 2, 15),
    (b"a: 1\nb: \xe5\xe4\xf6\n", 2, 4),
    (codecs.BOM_UTF8 + b"a: \xc3\xa5\xc3\xa4 \xe4\n", 1, 7),  # columns in characters, after the BOM
    (b"\x80", 1, 1),
])
def test_latin1_bytes_rejected_with_position(tmp_path: Path, raw: bytes, line: int, column: int) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(raw)
    doc = read_source(path, "m.yaml")
    assert doc.data is None
    assert _codes(doc) == [("MS102", line, column)]
    assert f"line {line}, column {column}" in doc.diagnostics[0].message


def test_utf16_without_bom_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes("a: 1\n".encode("utf-16-le"))
    doc = read_source(path, "m.yaml")
    assert _codes(doc) == [("MS102", 1, 2)]
    assert "NUL" in doc.diagnostics[0].message


def test_broken_utf16_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(codecs.BOM_UTF16_LE + "a: 1".encode("utf-16-le") + b"\x00")
    assert [d.code for d in read_source(path).diagnostics] == ["MS102"]
    path.write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8a\x00")  # a lone surrogate
    assert [d.code for d in read_source(path).diagnostics] == ["MS102"]


def test_unreadable_file_is_a_diagnostic(tmp_path: Path) -> None:
    doc = read_source(tmp_path / "missing.yaml", "missing.yaml")
    assert doc.data is None and [d.code for d in doc.diagnostics] == ["MS104"]
    doc = read_source(tmp_path, "folder")
    assert [d.code for d in doc.diagnostics] == ["MS104"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_data_or_diagnostics(text: str) -> None:
    doc = parse_text(text, "f.yaml")
    assert doc.data is not None or doc.diagnostics
    assert doc.data is None or isinstance(doc.data, dict)
    for d in doc.diagnostics:
        assert d.location.line >= 1 and d.location.column >= 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_never_raise(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.yaml"
    path.write_bytes(raw)
    doc = read_source(path)
    assert doc.data is not None or doc.diagnostics


TRICKY = [
    TEXT,
    "a: &x {b: [1, 2]}\nc: *x\nd: [*x, *x]\n",  # aliases: the same value, positions of each use
    "base: &b {x: 1}\nmore:\n  <<: *b\n  y: 2\n",  # a merge key
    "a: 1\nb: 2\na: 3\na: 4\n",  # duplicate keys
    "1: one\ntrue: yes\nnull: ~\n2024-01-01: d\n1.5: f\n",  # keys that are not texts
    "d: 2024-01-01\nt: 2024-01-01T10:00:00Z\nb: !!binary aGVsbG8=\nf: .inf\nn: .nan\no: 0o17\nh: 0x1f\n",
    "s: !!set {a, b}\no: !!omap [{a: 1}]\np: !!pairs [{a: 1}]\n",
    "x: !custom 1\n",  # a tag the safe constructor refuses
    "bad: 2024-13-01\n",  # a date that is not one
    "? [a, b]\n: c\n",  # a key that is a list
    "a: &r [*r]\n",  # recursive
    "a: [" * 70 + "]" * 70 + "\n",  # too deep
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 70)) + "  " * 70 + "v\n",
    "a: [" + "1," * (MAX_NODES + 5) + "1]\n",  # too many values
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcde", "bcdef", strict=True)),  # a billion laughs, smaller
    "a: 1\n---\nb: 2\n",
    "- 1\n- 2\n",
    "",
    "# only a comment\n",
    "a: 'unclosed\n",
    "a: {b: 1\n",
]


def _read_both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[SourceDocument, SourceDocument, bool]:
    """``text`` read the quick way (libyaml composing, one pass) and the exact way; whether the quick one read it."""
    from mapsync.engine.ruleset import source

    quick_took = []
    quick_load = source._load_quickly

    def counting(text: str, doc: SourceDocument) -> object:
        data = quick_load(text, doc)
        quick_took.append(True)
        return data

    monkeypatch.setattr(source, "_load_quickly", counting)
    quick = parse_text(text, "f.yaml")

    def refusing(text: str, doc: SourceDocument) -> object:
        raise source._Unusual("exact")

    monkeypatch.setattr(source, "_load_quickly", refusing)
    exact = parse_text(text, "f.yaml")
    monkeypatch.setattr(source, "_load_quickly", quick_load)
    return quick, exact, bool(quick_took)


def _same(quick: SourceDocument, exact: SourceDocument) -> None:
    assert repr(quick.data) == repr(exact.data)  # repr: nan is not equal to itself
    assert quick.values == exact.values and list(quick.values) == list(exact.values)
    assert quick.keys == exact.keys
    assert quick.diagnostics == exact.diagnostics


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_the_quick_reading_gives_what_the_exact_one_gives(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    quick, exact, _ = _read_both(text, monkeypatch)
    _same(quick, exact)


def test_the_quick_reading_reads_every_rule_file_of_the_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each YAML file of the rule tests and the standard rule sets: the same data, positions and diagnostics;
    the quick reading takes every plain one (not those with tabs, merge keys or YAML errors)."""
    root = Path(__file__).resolve().parents[2]
    took = 0
    files = sorted([*root.glob("tests/rules/**/*.yaml"), *root.glob("mapsync/rules/standard/**/*.yaml")])
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        quick, exact, quick_took = _read_both(text, monkeypatch)
        _same(quick, exact)
        took += quick_took
    assert took > 0.8 * len(files), (took, len(files))
    for path in root.glob("mapsync/rules/standard/**/*.yaml"):
        assert _read_both(path.read_text(encoding="utf-8"), monkeypatch)[2], path


def _exact(text: str) -> SourceDocument:
    """``text`` read the exact way only (the quick reading switched off)."""
    from mapsync.engine.ruleset import source

    quick_load = source._load_quickly

    def refusing(text: str, doc: SourceDocument) -> object:
        raise source._Unusual("exact")

    source._load_quickly = refusing  # type: ignore[assignment]
    try:
        return parse_text(text, "f.yaml")
    finally:
        source._load_quickly = quick_load


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                     st.sampled_from(["yes", "No", "~", "null", "1.0", "0x1f", "2024-01-01", "2024-13-01", "'", '"',
                                      "a: b", "- x", "#", "&a", "*a", "<<", "", " ", "é", "\n", "[", "{}"]),
                     st.text(max_size=8))
_DATA = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=6), st.integers(0, 3), st.booleans()), inner, max_size=4)),
    max_leaves=12)
_YAMLISH = st.text(alphabet="ab1 :-[]{},&*!?'\"#|>\n<~.", max_size=60)


@settings(max_examples=300, deadline=None)
@given(_DATA, st.booleans(), _YAMLISH)
def test_whatever_the_quick_reading_takes_it_reads_as_the_exact_one(data: object, flow: bool, noise: str) -> None:
    """Documents dumped from random data (block and flow style), and the same with YAML-ish noise appended:
    whenever the quick reading does not hand a text over to the exact one, both give the same data, positions
    and diagnostics."""
    import yaml

    dumped = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    for text in (dumped, dumped + noise, noise):
        _same(parse_text(text, "f.yaml"), _exact(text))
