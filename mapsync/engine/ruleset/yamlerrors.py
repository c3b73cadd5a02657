"""YAML syntax errors in plain words.

PyYAML says what its scanner and parser expected (``expected <block end>, but found '<block mapping start>'``,
``mapping values are not allowed here``), which means little to a consultant. ``explain(error, text)`` looks
at the error and at the text around it and returns what went wrong in the terms of the file (a tab, an
unclosed quote, a missing ``:``, a line indented to a column that lines up with nothing above, a value that
starts with a quote and goes on after it), the position to report (usually PyYAML's; the opening quote or
bracket, or the line lacking its ``:``, where that is where the fix goes) and a hint. Problems it does not
recognise keep PyYAML's own text. ``source.parse_text`` reports the result as MS101 (docs/diagnostics.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

_LINE_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")  # what PyYAML counts as a line break
_FOUND = re.compile(r"^expected <block end>, but found '(.*)'$")
_FLOW = re.compile(r"^expected ',' or '([\]}])', but got '(.*)'$")
_NO_SPACE_KEY = re.compile(r"^\s*(?:-\s+)?[^\s:#'\"{\[][^:\s]*:[^\s:]")


@dataclass(frozen=True)
class YamlProblem:
    """What to report for a YAML syntax error: a plain message, where (1-based), and how to fix it."""

    message: str
    line: int
    column: int
    hint: str = ""


def _quoted(value: str) -> str:
    """``value`` as a quoted YAML text, in the quotes that need no escaping when possible."""
    if '"' not in value and "\\" not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return "'" + value.replace("'", "''") + "'"


def _short(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _indent(line: str) -> int:
    """1-based column of the first character that is not a space."""
    return len(line) - len(line.lstrip(" ")) + 1


def _columns(numbers: list[int]) -> str:
    """``column 1``, ``columns 1, 3 and 5``."""
    text = [str(n) for n in numbers]
    return f"column {text[0]}" if len(text) == 1 else "columns " + ", ".join(text[:-1]) + " and " + text[-1]


def _space_after_colon(text: str) -> str:
    return re.sub(r":(?=\S)", ": ", text, count=1)


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


@dataclass(frozen=True)
class _Level:
    """A column at which something starts on a line above: a key, or a list item ('- ')."""

    column: int
    line: int  # 1-based
    item: bool


def _levels(lines: list[str], before: int) -> list[_Level]:
    """The columns of the blocks open at line ``before`` (0-based): each content line above that is indented
    less than every line between it and ``before``, and the key inside a list item (``- key: value``)."""
    found: list[_Level] = []
    limit = 10**9
    for number in range(before - 1, -1, -1):
        text = lines[number]
        if not _content(text):
            continue
        column = _indent(text)
        if column >= limit:
            continue
        body = text.strip()
        if body == "-" or body.startswith("- "):
            found.append(_Level(column, number + 1, item=True))
            inner = body[1:].lstrip(" ")
            if inner and not inner.startswith("#"):
                found.append(_Level(column + len(body) - len(inner), number + 1, item=False))
        else:
            found.append(_Level(column, number + 1, item=False))
        limit = column
        if column == 1:
            break
    return found


def _previous_content(lines: list[str], line: int) -> int | None:
    """0-based number of the nearest content line above ``line`` (0-based)."""
    for number in range(line - 1, -1, -1):
        if _content(lines[number]):
            return number
    return None


def _last_token_before(text: str, index: int) -> yaml.Token | None:
    """The last token PyYAML's scanner reads that starts before ``index`` (None when there is none)."""
    last = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= index:
                break
            last = token
    except yaml.YAMLError:
        pass
    return last


def _quote_runs_on(text: str, lines: list[str], mark: yaml.Mark, flow: bool) -> YamlProblem | None:
    """A value that starts with a quote and goes on after the closing one (``'Yes' if value else 'No'``), or
    a quote left open that a later quote closes."""
    token = _last_token_before(text, mark.index)
    if not isinstance(token, yaml.ScalarToken) or token.style not in ("'", '"'):
        return None
    start, end = token.start_mark, token.end_mark
    quote = text[start.index]
    if start.line != end.line:
        return YamlProblem(
            f"the quote ({quote}) opened here closes only at line {end.line + 1}, column {end.column}, and more "
            "text follows it there", start.line + 1, start.column + 1,
            f"is the closing {quote} missing on line {start.line + 1}? A text in quotes ends at the next {quote}")
    rest = lines[start.line][start.column:]
    if flow:
        rest = re.split(r",\s|[}\]]", rest, maxsplit=1)[0]
    value = rest.split(" #", 1)[0].rstrip()
    return YamlProblem(
        f"the value starts with a quote, so YAML takes {_short(text[start.index:end.index], 40)} as the whole "
        "value, and then finds more text after it", mark.line + 1, mark.column + 1,
        f"put the whole value in quotes: {_quoted(value)}")


def _indentation(lines: list[str], mark: yaml.Mark, found: str) -> YamlProblem | None:
    """A key or list item where YAML expects the block above to go on or to end."""
    kind = "key" if found in ("<block mapping start>", "?") else "list item"
    column = mark.column + 1
    levels = _levels(lines, mark.line)
    if not levels:
        return None
    here = lines[mark.line].strip()
    at_column = [lv for lv in levels if lv.column == column]
    if not at_column:
        same = [lv for lv in levels if lv.item == (kind == "list item")] or levels
        best = min(abs(lv.column - column) for lv in same)
        near: dict[int, _Level] = {}
        for lv in same:  # the nearest line above at each of the closest columns
            if abs(lv.column - column) == best:
                near.setdefault(lv.column, lv)
        like = " or ".join(f"column {lv.column}, like line {lv.line}" for lv in near.values())
        return YamlProblem(
            f"this {kind} is indented to column {column}, which lines up with nothing above it "
            f"(the blocks above start at {_columns(sorted({lv.column for lv in levels}))})",
            mark.line + 1, column, f"indent it like the {kind}s it belongs with ({like})")
    above = at_column[0]
    above_text = lines[above.line - 1].strip()
    if kind == "key" and above.item and re.match(r"^-[^\s-]", here):
        return YamlProblem(
            f"{_short(here, 30)!r} is at the column of the list item on line {above.line}, but YAML reads it as a "
            "key: it has no space after '-'", mark.line + 1, column, f"write a space after '-' ('- {here[1:]}')")
    if kind == "key" and above.item:
        return YamlProblem(
            f"this key is at the column of the list item on line {above.line}: the items of a list and the keys "
            "of a mapping cannot share one level", mark.line + 1, column,
            f"make it a list item ('- {_short(here, 30)}'), or indent it to the keys of that item "
            f"(column {above.column + 2})")
    if kind == "list item" and not above.item:
        if re.match(r"^-[^\s-]", above_text):
            return YamlProblem(
                f"this list item is at the column of line {above.line}, which YAML reads as a key: "
                f"{_short(above_text, 30)!r} has no space after '-'", mark.line + 1, column,
                f"write a space after '-' on line {above.line} ('- {above_text[1:]}')")
        return YamlProblem(
            f"this list item is at the column of the key on line {above.line}: a list is the value of a key, "
            "written on the lines below it and indented more", mark.line + 1, column,
            "indent the list under the key it belongs to (`key:`, then `  - item`)")
    return None


def _flow(text: str, lines: list[str], exc: yaml.MarkedYAMLError, closer: str, got: str) -> YamlProblem | None:
    opener_mark, mark = exc.context_mark, exc.problem_mark
    if opener_mark is None or mark is None:
        return None
    opener = "{" if closer == "}" else "["
    where = f"line {opener_mark.line + 1}, column {opener_mark.column + 1}"
    shape = f"'{opener}...{closer}'"
    if got == "<stream end>":
        return YamlProblem(f"the '{opener}' opened here is never closed: the file ends inside it",
                           opener_mark.line + 1, opener_mark.column + 1, f"add the '{closer}' that closes it")
    if got in ("]", "}"):
        return YamlProblem(f"'{got}' does not close the '{opener}' opened at {where}", mark.line + 1,
                           mark.column + 1, f"close it with '{closer}'")
    if got == "{" and mark.index > 0 and text[mark.index - 1] == "$":
        end = text.find("}", mark.index)
        reference = text[mark.index - 1: end + 1] if end >= 0 else "${...}"
        return YamlProblem(f"{reference} inside {shape} must be quoted: YAML reads its '{{' as the start of "
                           "another mapping", mark.line + 1, mark.column, f'write it in quotes: "{reference}"')
    if got == "<scalar>":
        quoted = _quote_runs_on(text, lines, mark, flow=True)
        if quoted is not None:
            return quoted
    if got == ":" and mark.line > opener_mark.line:
        return YamlProblem(
            f"the '{opener}' opened here is not closed before line {mark.line + 1}", opener_mark.line + 1,
            opener_mark.column + 1, f"add the '{closer}' that closes it at the end of its value")
    if got == ":":
        return YamlProblem(
            f"a ':' where the {shape} opened at {where} expects ',' or '{closer}': is a ',' missing between two "
            "entries?", mark.line + 1, mark.column + 1, "separate the entries with ', ' (`{a: 1, b: 2}`)")
    return None


def _mapping_value(lines: list[str], mark: yaml.Mark) -> YamlProblem:
    """``mapping values are not allowed here``: a ':' where no key can start."""
    line = lines[mark.line]
    before = line[: mark.column]
    first = re.search(r":(\s|$)", before)
    if first is not None:
        key = before[: first.start()]
        value = line[first.end():].split(" #", 1)[0].strip()
        return YamlProblem(
            f"a second ': ' on line {mark.line + 1}: a value that contains ': ' must be in quotes, or YAML reads "
            "the text before it as a key", mark.line + 1, mark.column + 1,
            f"put the whole value in quotes: {key.strip()}: {_quoted(value)}")
    previous = _previous_content(lines, mark.line)
    if previous is not None:
        above = lines[previous]
        if _NO_SPACE_KEY.match(above) and not re.search(r":\s", above):
            fixed = _space_after_colon(above.strip())
            return YamlProblem(
                f"line {previous + 1} ({_short(above, 30)!r}) has no space after its ':', so YAML reads it as a "
                "text that runs on into this line", previous + 1, _indent(above),
                f"write a space after ':' ({fixed!r})")
        has_value = re.match(r"^\s*(?:-\s+)?[^\s#][^:]*:\s+(?P<value>[^#\s].*)$", above)
        item_value = re.match(r"^\s*-\s+(?P<value>[^#\s][^:]*)$", above)
        if _indent(line) > _indent(above) and has_value is not None:
            key = above.split(":", 1)[0].strip().lstrip("- ").strip()
            return YamlProblem(
                f"this line is indented more than line {previous + 1}, but line {previous + 1} is not a key that "
                f"opens a block: {key!r} already has the value {_short(has_value['value'], 30)!r}",
                mark.line + 1, _indent(line),
                f"indent this line like line {previous + 1}; or, if it belongs under {key!r}, remove the value "
                f"after '{key}:'")
        if _indent(line) > _indent(above) and item_value is not None:
            return YamlProblem(
                f"this line is indented more than line {previous + 1}, but line {previous + 1} is a list item that "
                f"already has the value {_short(item_value['value'], 30)!r}, not a key that opens a block",
                mark.line + 1, _indent(line),
                f"indent this line like line {previous + 1}; or, if the item is a mapping, write its first key "
                f"there ('- key: ...') and line this one up with it")
    return YamlProblem(
        "a ':' here would start a key, but no key can start here", mark.line + 1, mark.column + 1,
        "check the indentation of this line against the lines above; a value that contains ': ' must be in quotes")


def explain(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    """The plain-words report of a PyYAML error raised while reading ``text``."""
    lines = _LINE_BREAK.split(text)
    problem, context = exc.problem or "", exc.context or ""
    mark, opened = exc.problem_mark, exc.context_mark
    at = mark or opened
    line, column = (at.line + 1, at.column + 1) if at is not None else (1, 1)
    char = text[mark.index] if mark is not None and 0 <= mark.index < len(text) else ""
    explained = _explain(exc, text, lines, problem, context, char)
    if explained is not None:
        return explained
    return YamlProblem(f"{problem or 'invalid YAML'}" + (f" ({context})" if context else ""), line, column)


def _explain(exc: yaml.MarkedYAMLError, text: str, lines: list[str], problem: str, context: str,
             char: str) -> YamlProblem | None:
    mark, opened = exc.problem_mark, exc.context_mark
    if mark is not None and problem.endswith("that cannot start any token"):
        if char == "\t":
            if lines[mark.line][: mark.column].strip(" \t") == "":
                return YamlProblem(f"line {mark.line + 1} is indented with a tab: YAML indents with spaces only",
                                   mark.line + 1, mark.column + 1,
                                   "replace the tab by spaces (let the editor insert spaces for Tab in YAML files)")
            return YamlProblem("a tab here, between the parts of a line: YAML separates them with spaces (a tab "
                               "may only stand inside a quoted text)", mark.line + 1, mark.column + 1,
                               "replace the tab by a space")
        value = lines[mark.line][mark.column:].split(" #", 1)[0].rstrip()
        return YamlProblem(f"a value cannot start with {char!r} in YAML (the character is reserved)",
                           mark.line + 1, mark.column + 1, f"put the value in quotes: {_quoted(value)}")
    if opened is not None and context == "while scanning a quoted scalar":
        quote = text[opened.index] if 0 <= opened.index < len(text) else "'"
        escape = "write '' for a quote inside single quotes" if quote == "'" else 'write \\" for a quote inside ' \
            "double quotes"
        runs_into = "the file ends inside it" if "end of stream" in problem else \
            f"it runs into the document separator '---' on line {mark.line + 1 if mark else '?'}"
        return YamlProblem(f"the quote ({quote}) opened here is never closed: {runs_into}", opened.line + 1,
                           opened.column + 1, f"close the quote at the end of the value ({escape})")
    if opened is not None and problem == "could not find expected ':'":
        key = lines[opened.line][opened.column:].split(" #", 1)[0].rstrip()
        if re.match(r"^[^\s:]+:\S", key):
            return YamlProblem(f"{_short(key)!r} has no space after its ':', so YAML does not read a key in it: "
                               "each line of a mapping is `key: value`", opened.line + 1, opened.column + 1,
                               f"write a space after ':' ({_space_after_colon(key)!r})")
        return YamlProblem(f"{_short(key)!r} is not followed by ':': each line of a mapping is `key: value`",
                           opened.line + 1, opened.column + 1,
                           "write ': ' (a colon and a space) after the key, as in `direction: both`; or, if this line "
                           "goes on with the value of the line above, put that value in quotes")
    if mark is not None and problem == "mapping values are not allowed here":
        return _mapping_value(lines, mark)
    if mark is not None and problem == "sequence entries are not allowed here":
        if lines[mark.line][: mark.column].strip():
            return YamlProblem("a list item ('- ') cannot start on the same line as its key", mark.line + 1,
                               mark.column + 1, "start the list on the next line, indented (`key:`, then "
                               "`  - item`), or write it in brackets (`key: [item]`)")
        return YamlProblem("this list item is indented more than the line above, but that line already has a value",
                           mark.line + 1, mark.column + 1,
                           "indent the item like the items above; or remove the value of the key above")
    if mark is not None and problem == "mapping keys are not allowed here":
        return YamlProblem("'? ' starts a complex key, which rule files do not use", mark.line + 1,
                           mark.column + 1, "put the value in quotes")
    found = _FOUND.match(problem)
    if mark is not None and found is not None:
        if found.group(1) == "<scalar>":
            quoted = _quote_runs_on(text, lines, mark, flow=False)
            if quoted is not None:
                return quoted
            return YamlProblem("more text after a complete value", mark.line + 1, mark.column + 1,
                               "put the whole value in quotes, or start this text on a line of its own")
        return _indentation(lines, mark, found.group(1))
    flow = _FLOW.match(problem)
    if flow is not None:
        return _flow(text, lines, exc, flow.group(1), flow.group(2))
    if mark is not None and problem.startswith("expected the node content, but found"):
        return YamlProblem(f"{char!r} where a value should be: the value is missing, or the bracket has no "
                           "partner", mark.line + 1, mark.column + 1, "write the value, or remove the stray character")
    if mark is not None and problem.startswith("found undefined alias"):
        name = problem.split("'")[1] if "'" in problem else "?"
        return YamlProblem(f"'*{name}' repeats an anchor, but no '&{name}' is defined above it", mark.line + 1,
                           mark.column + 1, f"define the anchor (`&{name}`) before the alias, or put a value that "
                           "starts with '*' in quotes")
    if mark is not None and opened is not None and context.startswith("found duplicate anchor"):
        name = context.split("'")[1] if "'" in context else "?"
        return YamlProblem(f"the anchor '&{name}' is defined twice (first at line {opened.line + 1})",
                           mark.line + 1, mark.column + 1, "give one of them another name")
    if mark is not None and problem.startswith("found unknown escape character"):
        return YamlProblem(f"'\\{char}' is not an escape YAML knows inside double quotes", mark.line + 1,
                           mark.column, "write '\\\\' for a backslash, or use single quotes, in which '\\' is an "
                           "ordinary character")
    if mark is not None and context in ("while scanning an alias", "while scanning an anchor"):
        sign = "*" if "alias" in context else "&"
        return YamlProblem(f"a value that starts with '{sign}' names an {context.rsplit(' ', 1)[1]}, and no name "
                           "follows", mark.line + 1, mark.column, "put the value in quotes")
    if mark is not None and problem == "but found another document":
        return YamlProblem("a second YAML document starts here: a rule file holds one document", mark.line + 1,
                           mark.column + 1, "remove the '---' line, or put the second document in a file of its own")
    if mark is not None and problem.startswith("cannot read the value"):  # source._Loader's, already in words
        return YamlProblem(problem, mark.line + 1, mark.column + 1,
                           "correct the value; or, if it is meant as text, put it in quotes (without a `!!` tag)")
    if mark is not None and problem == "found unhashable key":
        return YamlProblem("a list or mapping used as a key: keys are plain names", mark.line + 1, mark.column + 1,
                           "write the key as a plain name, or put it in quotes")
    if mark is not None and problem.startswith("expected '<document start>'"):
        return YamlProblem("more content after the end of the document (the '...' line above it)", mark.line + 1,
                           mark.column + 1, "remove the '...' line")
    if mark is not None and problem.startswith("could not determine a constructor for the tag"):
        tag = problem.rsplit(" ", 1)[1]
        return YamlProblem(f"unknown tag {tag}: rule files use plain values, without tags", mark.line + 1,
                           mark.column + 1, "remove the tag, or put a value that starts with '!' in quotes")
    if mark is not None and context == "while scanning a block scalar":
        return YamlProblem("after '|' or '>' only '+', '-' or an indentation digit may stand on the line",
                           mark.line + 1, mark.column + 1, "put the text on the lines below, indented")
    if mark is not None and problem == "invalid indentation or unclosed '[' or '{'":
        return YamlProblem("a line inside '[...]' or '{...}' is indented less than the key that holds it, or a "
                           "bracket is not closed", mark.line + 1, mark.column + 1,
                           "indent it more than the key, or close the bracket")
    return None
