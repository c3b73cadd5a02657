"""engine.ruleset.yamlerrors: YAML syntax errors in plain words, at the place to fix, with a hint."""

from __future__ import annotations

import pytest

from mapsync.engine.ruleset.source import parse_text

JARGON = ("<block", "<scalar>", "while parsing", "while scanning", "cannot start any token", "simple key",
          "<stream end>", "flow mapping", "flow sequence")


def _one(text: str) -> tuple[int, int, str, str]:
    doc = parse_text(text, "f.yaml")
    assert doc.data is None and len(doc.diagnostics) == 1, doc.diagnostics
    d = doc.diagnostics[0]
    assert d.code == "MS101"
    return d.location.line, d.location.column, d.message, d.hint


CASES = [
    # (text, line, column, in the message, in the hint)
    ("name: x\nfields:\n\t- {crm: A, erp: B}\n", 3, 1, "indented with a tab", "replace the tab by spaces"),
    ("a:\tb\n", 1, 3, "a tab here, between the parts of a line", "by a space"),
    ('name: x\ndescription: "open\ncrm: a\n', 2, 14, 'the quote (") opened here is never closed: the file ends',
     'write \\" for a quote'),
    ("name: 'x\ncrm: a\n", 1, 7, "the quote (') opened here is never closed", "write '' for a quote"),
    ('a: "x\n---\n"\n', 1, 4, "runs into the document separator '---' on line 2", "close the quote"),
    ("name: 'x\ncrm: 'organisation'\n", 1, 7, "closes only at line 2, column 6", "missing on line 1"),
    ("name: x\ncrm organisation\nerp: customer\n", 2, 1, "'crm organisation' is not followed by ':'",
     "`direction: both`"),
    ("name: x\ncrm:organisation\nerp: customer\n", 2, 1, "no space after its ':'", "'crm: organisation'"),
    ("name:x\ncrm: a\n", 1, 1, "line 1 ('name:x') has no space after its ':'", "'name: x'"),
    ("fields:\n  - crm: A\n   - crm: B\n", 3, 4, "list item is indented to column 4, which lines up with nothing",
     "column 3, like line 2"),
    ("fields:\n  - crm: A\n - crm: B\n", 3, 2, "(the blocks above start at columns 1, 3 and 5)", "column 3"),
    ("fields:\n  - crm: A\n    erp: B\n   direction: both\n", 4, 4, "key is indented to column 4",
     "column 5, like line 3"),
    ("- a\nb: 1\n", 2, 1, "key is at the column of the list item on line 1", "'- b: 1'"),
    ("- a\n-b: 1\n", 2, 1, "no space after '-'", "'- b: 1'"),
    ("a: 1\n- b\n", 2, 1, "list item is at the column of the key on line 1", "indent the list under the key"),
    ("fields:\n  -crm: A\n  - crm: B\n", 3, 3, "'-crm: A' has no space after '-'", "'- crm: A'"),
    ("conditions:\n  crm: record.X == 'a: b'\n", 2, 22, "a second ': ' on line 2",
     "crm: \"record.X == 'a: b'\""),
    ("name: customers\n  crm: organisation\n", 2, 3, "indented more than line 1, but line 1 is not a key that opens "
     "a block: 'name' already has the value 'customers'", "remove the value after 'name:'"),
    ("fields:\n  - a\n    b: 1\n", 3, 5, "line 2 is a list item that already has the value 'a'", "'- key: ...'"),
    ("a: - b\n", 1, 4, "cannot start on the same line as its key", "`key: [item]`"),
    ("a: ? b\n", 1, 4, "complex key", "quotes"),
    ("a: @x\n", 1, 4, "cannot start with '@'", '"@x"'),
    ("a: `x y`\n", 1, 4, "cannot start with '`'", '"`x y`"'),
    ("a: *nope\n", 1, 4, "no '&nope' is defined above it", "define the anchor"),
    ("a: &x 1\nb: &x 2\n", 2, 4, "'&x' is defined twice (first at line 1)", "another name"),
    ('a: "C:\\path"\n', 1, 7, "'\\p' is not an escape", "single quotes"),
    ("a: *\n", 1, 4, "names an alias, and no name follows", "quotes"),
    ("a: 1\n---\nb: 2\n", 2, 1, "a second YAML document starts here", "remove the '---' line"),
    ("a: 1\n...\nb: 2\n", 3, 1, "after the end of the document", "'...'"),
    ("x: [a, b}\n", 1, 9, "'}' does not close the '[' opened at line 1, column 4", "close it with ']'"),
    ("a: {b: 1", 1, 4, "the '{' opened here is never closed: the file ends inside it", "add the '}'"),
    ("fields:\n  - {crm: A, erp: name\nname: x\n", 2, 5, "the '{' opened here is not closed before line 3",
     "add the '}'"),
    ("a: {b: 1 c: 2}\n", 1, 11, "is a ',' missing between two entries?", "', '"),
    ("fields: [{crm: ${settings.crm_fields.x}, erp: a}]\n", 1, 16,
     "${settings.crm_fields.x} inside '{...}' must be quoted", '"${settings.crm_fields.x}"'),
    ("transform:\n  to_crm: 'Yes' if value else 'No'\n", 2, 17, "starts with a quote, so YAML takes 'Yes' as the "
     "whole value", "\"'Yes' if value else 'No'\""),
    ("transform: {to_crm: 'Yes' if value else 'No', to_erp: x}\n", 1, 27, "starts with a quote",
     "\"'Yes' if value else 'No'\""),
    ("a: ]\n", 1, 4, "']' where a value should be", "stray"),
    ("{[a]: 1}: 2\n", 1, 1, "a list or mapping used as a key", "plain name"),
    ("a: !foo bar\n", 1, 4, "unknown tag '!foo'", "remove the tag"),
    ("a: |x\n  b\n", 1, 5, "after '|' or '>'", "lines below"),
    ("a: 2024-13-01\n", 1, 4, "cannot read the value '2024-13-01' as a date", "put it in quotes"),
]


@pytest.mark.parametrize(("text", "line", "column", "message", "hint"), CASES, ids=[c[3][:40] for c in CASES])
def test_common_mistakes_in_plain_words(text: str, line: int, column: int, message: str, hint: str) -> None:
    got = _one(text)
    assert got[:2] == (line, column), got
    assert message in got[2], got[2]
    assert hint in got[3], got[3]
    assert not any(word in got[2] for word in JARGON), got[2]


def test_a_problem_not_recognised_keeps_pyyamls_words() -> None:
    line, column, message, hint = _one("%YAML 1.1 x\n---\na: 1\n")
    assert (line, column) == (1, 11)
    assert message == "expected a comment or a line break, but found 'x' (while scanning a directive)"
    assert hint == ""
