"""The hostile rule-file corpus: files and expressions written to hurt the validator, and what each must give.

Each ``Hostile`` case builds a rule set (or a single file) in a temporary folder and names the one diagnostic
that must come back: its code, the file (relative to the case folder) and line, and, where it is fixed by the
file, the column. ``mapsync validate`` must answer with that diagnostic and exit code ``exit``, located
(file, line, column), with a message and a hint, without a traceback, within ``SECONDS``
(``tests/rules/test_hostile_cases.py``). Cases are generated here, not stored as folders: several are
megabytes, FIFOs or symlinks.

Kinds: YAML bombs (entity expansion, quadratic aliases, merge keys, recursion), nesting, size, encodings and
BOMs, control characters, tags that build objects, ``extends`` that loops or leaves for places that are not
rule sets, mapping files that lead to devices, FIFOs, ``/proc`` or symlink loops, and every way out of an
expression (dunder attributes, imports and builtins, huge numbers and texts, comprehension and lambda bombs,
format-string attacks, methods of values, statements, nesting that exhausts the parser) and of a JMESPath
extractor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SHARED_BASE = Path(__file__).resolve().parent / "shared-base"

SECONDS = 10.0
"""What any one case may take, under the load of a shared 2-core CI machine (most take milliseconds)."""

Files = dict[str, bytes | str]


@dataclass(frozen=True)
class Hostile:
    name: str
    files: Files | Callable[[Path], None]  # relative path -> content, or a builder of the case folder
    code: str
    file: str
    line: int
    column: int | None = None
    exit: int = 1
    target: str = "."  # what is given to `mapsync validate`, relative to the case folder
    message: str = ""  # a part of the message

    def build(self, folder: Path) -> Path:
        if callable(self.files):
            self.files(folder)
        else:
            for name, content in self.files.items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    path.write_bytes(content)
                else:
                    path.write_text(content, encoding="utf-8")
        return folder / self.target


RULESET = f"name: hostile\nextends: {SHARED_BASE}\nmappings: [customers.yaml]\n"
HEAD = "name: customers\ncrm: organisation\nerp: customer\ndirection: both\n"  # lines 1-4


def mapping(body: str | bytes) -> Files:
    """A rule set extending the shared base with ``customers.yaml`` replaced by ``HEAD`` + ``body``."""
    content: str | bytes = HEAD.encode() + body if isinstance(body, bytes) else HEAD + body
    return {"ruleset.yaml": RULESET, "customers.yaml": content}


def condition(expression: str) -> Files:
    """The crm condition (line 6, the value at column 8) is ``expression``, as a YAML double-quoted text."""
    quoted = expression.replace("\\", "\\\\").replace('"', '\\"')
    return mapping(f'conditions:\n  crm: "{quoted}"\nfields:\n  - {{crm: OrganisationName, erp: Name}}\n')


def transform(expression: str) -> Files:
    """The to_erp transform of the name rule (line 6) is ``expression``."""
    quoted = expression.replace("\\", "\\\\").replace('"', '\\"')
    return mapping(f'fields:\n  - {{crm: OrganisationName, erp: Name, transform: {{to_erp: "{quoted}"}}}}\n')


def extractor(expression: str) -> Files:
    """The erp side of a field rule (line 7) reads with the JMESPath ``expression``."""
    quoted = expression.replace("\\", "\\\\").replace('"', '\\"')
    return mapping(f'fields:\n  - crm: OrganisationAddress\n    erp: {{read: "{quoted}"}}\n'
                   "    direction: erp-to-crm\n")


def laughs(levels: int, width: int = 9) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _ruleset_text(text: str) -> Files:
    return {"ruleset.yaml": text}


def _extends(target: str) -> Files:
    return {"ruleset.yaml": f"name: hostile\nextends: {target}\n"}


def _fifo(folder: Path, name: str) -> None:
    os.mkfifo(folder / name)


def _mapping_fifo(folder: Path) -> None:
    (folder / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    _fifo(folder, "customers.yaml")


def _mapping_symlink(target: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        (folder / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
        (folder / "customers.yaml").symlink_to(target)
    return build


def _mapping_symlink_out(folder: Path) -> None:
    (folder.parent / "outside.yaml").write_text("- a list, not a mapping\n", encoding="utf-8")
    _mapping_symlink(str(folder.parent / "outside.yaml"))(folder)


def _mapping_symlink_loop(folder: Path) -> None:
    (folder / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    (folder / "customers.yaml").symlink_to(folder / "customers.yaml")


def _extends_fifo(folder: Path) -> None:
    (folder / "base").mkdir()
    _fifo(folder / "base", "ruleset.yaml")
    (folder / "ruleset.yaml").write_text("name: hostile\nextends: base\n", encoding="utf-8")


def _extends_symlink(target: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        (folder / "base").symlink_to(target)
        (folder / "ruleset.yaml").write_text("name: hostile\nextends: base\n", encoding="utf-8")
    return build


def _extends_loop_symlink(folder: Path) -> None:
    (folder / "base").symlink_to(folder / "base")
    (folder / "ruleset.yaml").write_text("name: hostile\nextends: base\n", encoding="utf-8")


def _extends_cycle(length: int) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        for i in range(length):
            (folder / f"r{i}").mkdir()
            (folder / f"r{i}" / "ruleset.yaml").write_text(
                f"name: r{i}\nextends: ../r{(i + 1) % length}\n", encoding="utf-8")
        (folder / "ruleset.yaml").write_text("name: hostile\nextends: r0\n", encoding="utf-8")
    return build


def _extends_base_with(content: bytes) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        (folder / "base").mkdir()
        (folder / "base" / "ruleset.yaml").write_bytes(content)
        (folder / "ruleset.yaml").write_text("name: hostile\nextends: base\n", encoding="utf-8")
    return build


def _single_fifo(folder: Path) -> None:
    _fifo(folder, "lone.yaml")


def _huge(size: int) -> bytes:
    line = b"  - {crm: OrganisationName, erp: Name}   # padding padding padding padding padding\n"
    return HEAD.encode() + b"fields:\n" + line * (size // len(line) + 1)


CASES: list[Hostile] = [
    # -- YAML bombs ------------------------------------------------------------------------------------------
    Hostile("billion-laughs", mapping(laughs(9)), "MS101", "customers.yaml", 0, message="aliases are expanded"),
    Hostile("billion-laughs-wide", mapping(laughs(4, 400)), "MS101", "customers.yaml", 0,
            message="aliases are expanded"),
    Hostile("billion-laughs-in-ruleset", _ruleset_text(laughs(9) + "name: x\n"), "MS101", "ruleset.yaml", 0),
    Hostile("quadratic-aliases", mapping("big: &big [" + ", ".join(["x"] * 4000) + "]\nrefs: ["
                                         + ", ".join(["*big"] * 40) + "]\n"), "MS101", "customers.yaml", 0),
    Hostile("merge-key-doubling", mapping("m0: &m0 {a: 1, b: 2}\n" + "".join(
        f"m{i}: &m{i}\n  <<: [*m{i - 1}, *m{i - 1}]\n  k{i}: {i}\n" for i in range(1, 40))), "MS101",
        "customers.yaml", 0),
    Hostile("merge-key-laughs", mapping(laughs(8) + "fields:\n  - <<: {crm: OrganisationName, erp: Name}\n"
                                        "    x: *l7\n"), "MS101", "customers.yaml", 0),
    Hostile("alias-to-itself", mapping("fields: &f\n  - *f\n"), "MS101", "customers.yaml", 5, 9,
            message="alias to itself"),
    Hostile("alias-cycle-through-mapping", mapping("fields: &f\n  - {crm: OrganisationName, erp: *f}\n"),
            "MS101", "customers.yaml", 5, message="alias to itself"),
    Hostile("alias-cycle-in-merge", mapping("x: &x\n  <<: *x\n  a: 1\n"), "MS101", "customers.yaml", 5),
    Hostile("alias-undefined", mapping("fields: *nowhere\n"), "MS101", "customers.yaml", 5),
    Hostile("merge-of-a-scalar", mapping("x:\n  <<: 5\n"), "MS101", "customers.yaml", 6),
    Hostile("merge-of-a-list-of-scalars", mapping("x:\n  <<: [1, 2]\n"), "MS101", "customers.yaml", 6),
    # -- nesting ---------------------------------------------------------------------------------------------
    Hostile("deep-flow-lists-100", mapping("x: " + "[" * 100 + "]" * 100 + "\n"), "MS101", "customers.yaml", 5,
            message="nested more than"),
    Hostile("deep-flow-lists-100000", mapping("x: " + "[" * 100_000 + "\n"), "MS101", "customers.yaml", 5,
            message="nested more than"),
    Hostile("deep-flow-mappings", mapping("x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"), "MS101",
            "customers.yaml", 5, message="nested more than"),
    Hostile("deep-block-mappings", mapping("".join(" " * i + "k:\n" for i in range(200))), "MS101",
            "customers.yaml", 0, message="nested more than"),
    Hostile("deep-block-sequences", mapping("x:\n" + "".join("  " * i + "-\n" for i in range(200))), "MS101",
            "customers.yaml", 0, message="nested more than"),
    Hostile("deep-mixed", mapping("x: " + "[{a: " * 3000 + "\n"), "MS101", "customers.yaml", 5),
    Hostile("deep-in-ruleset", _ruleset_text("name: x\nsettings: " + "[" * 50_000 + "\n"), "MS101",
            "ruleset.yaml", 2),
    # -- size ------------------------------------------------------------------------------------------------
    Hostile("huge-mapping-file-13mb", mapping(_huge(13_000_000)[len(HEAD):]), "MS110", "customers.yaml", 1, 1),
    Hostile("huge-ruleset-file", _ruleset_text("name: x\n" + "# " + "x" * 2_000_000 + "\n"), "MS110",
            "ruleset.yaml", 1, 1),
    Hostile("just-over-the-limit", mapping(b"#" * (256 * 1024)), "MS110", "customers.yaml", 1, 1),
    Hostile("one-huge-line", mapping("description: " + "x" * 3_000_000 + "\n"), "MS110", "customers.yaml", 1, 1),
    Hostile("huge-single-file", {"lone.yaml": _huge(5_000_000)}, "MS110", "lone.yaml", 1, 1,
            target="lone.yaml"),
    Hostile("huge-base-of-extends", _extends_base_with(b"name: b\n" + b"#" * 1_000_000), "MS110",
            "base/ruleset.yaml", 1, 1),
    Hostile("huge-text-literal-in-expression", condition("'" + "x" * 150_000 + "' == record.OrganisationName"),
            "MS404", "customers.yaml", 6, message="longer than"),
    # -- encodings, BOMs, control characters -----------------------------------------------------------------
    Hostile("latin1-byte", mapping(b"description: Troms\xf8\n"), "MS102", "customers.yaml", 5, 19),
    Hostile("lone-continuation-byte", mapping(b"description: \x80\n"), "MS102", "customers.yaml", 5, 14),
    Hostile("overlong-slash", mapping(b"description: \xc0\xaf\n"), "MS102", "customers.yaml", 5, 14),
    Hostile("encoded-surrogate", mapping(b"description: \xed\xa0\x80\n"), "MS102", "customers.yaml", 5, 14),
    Hostile("truncated-at-end", mapping(b"description: \xe2\x82"), "MS102", "customers.yaml", 5, 14),
    Hostile("byte-ff", mapping(b"\xff\xfe\xfd: 1\n"), "MS102", "customers.yaml", 5, 1),
    Hostile("nul-bytes", mapping(b"description: a\x00b\n"), "MS102", "customers.yaml", 5, 15),
    Hostile("utf16-bom-odd-length", {"ruleset.yaml": RULESET,
                                     "customers.yaml": b"\xff\xfe" + "name: x\n".encode("utf-16-le") + b"\x00"},
            "MS102", "customers.yaml", 1, 1),
    Hostile("utf16-be-bom-unpaired-surrogate", {"ruleset.yaml": RULESET,
                                                "customers.yaml": b"\xfe\xff\xd8\x00\x00a"},
            "MS102", "customers.yaml", 1, 1),
    Hostile("utf32-bom", {"ruleset.yaml": RULESET, "customers.yaml": b"\xff\xfe\x00\x00"
                          + HEAD.encode("utf-32-le")}, "MS101", "customers.yaml", 1),
    Hostile("utf8-bom-then-latin1", mapping(b"\xef\xbb\xbfdescription: \xe9\n")
            | {"customers.yaml": b"\xef\xbb\xbf" + HEAD.encode() + b"description: \xe9\n"},
            "MS102", "customers.yaml", 5, 14),
    Hostile("two-utf8-boms", {"ruleset.yaml": RULESET, "customers.yaml": b"\xef\xbb\xbf\xef\xbb\xbf"
                              + HEAD.encode() + b"bad: [\n"}, "MS101", "customers.yaml", 0),
    Hostile("bom-in-the-middle", mapping("description: a\ufeffb\nbad: [\n"), "MS101", "customers.yaml", 0),
    Hostile("bell-character", mapping(b"description: a\x07b\n"), "MS101", "customers.yaml", 5, 15),
    Hostile("escape-sequence-raw", mapping(b"description: \x1b[2J\x1b]0;pwned\x07\n"), "MS101", "customers.yaml",
            5, 14),
    Hostile("escape-sequence-in-field-name", mapping('fields:\n  - {crm: OrganisationName, erp: "\\e[2J"}\n'),
            "MS303", "customers.yaml", 6, message="\\x1b[2J"),
    Hostile("c1-control", mapping("description: \"a\\x9bb\"\nx: \u009b\n"), "MS101", "customers.yaml", 6),
    Hostile("lone-surrogate-escape", condition("\\ud800 == value"), "MS401", "customers.yaml", 6, 8),
    # -- tags and keys ---------------------------------------------------------------------------------------
    Hostile("python-object-apply", mapping("x: !!python/object/apply:os.system ['echo pwned']\n"), "MS101",
            "customers.yaml", 5, 4),
    Hostile("python-name", mapping("x: !!python/name:os.system\n"), "MS101", "customers.yaml", 5, 4),
    Hostile("python-module", mapping("x: !!python/module:os\n"), "MS101", "customers.yaml", 5, 4),
    Hostile("custom-tag", mapping("x: !include /etc/passwd\n"), "MS101", "customers.yaml", 5, 4),
    Hostile("binary-value", mapping("x: !!binary '@@@'\n"), "MS201", "customers.yaml", 5, 1),
    Hostile("impossible-timestamp", mapping("x: !!timestamp 2024-13-45\n"), "MS101", "customers.yaml", 5, 4),
    Hostile("int-tag-on-text", mapping("x: !!int abc\n"), "MS101", "customers.yaml", 5, 4),
    Hostile("list-as-key", mapping("? [a, b]\n: 1\n"), "MS101", "customers.yaml", 5, 3),
    Hostile("mapping-as-key", mapping("{a: 1}: 2\n"), "MS101", "customers.yaml", 5, 1),
    Hostile("many-unknown-keys", mapping("".join(f"k{i}: {i}\n" for i in range(5000))), "MS201",
            "customers.yaml", 5),
    Hostile("two-documents", mapping("---\nname: other\n"), "MS101", "customers.yaml", 5),
    Hostile("many-documents", mapping("---\n" * 30_000), "MS101", "customers.yaml", 5),
    Hostile("only-comments", {"ruleset.yaml": RULESET, "customers.yaml": "# nothing\n" * 100}, "MS107",
            "customers.yaml", 1),
    Hostile("top-level-scalar", {"ruleset.yaml": RULESET, "customers.yaml": "'" + "x" * 1000 + "'\n"}, "MS107",
            "customers.yaml", 1),
    # -- extends ---------------------------------------------------------------------------------------------
    Hostile("extends-itself", _extends("."), "MS105", "ruleset.yaml", 2, 10),
    Hostile("extends-cycle-2", _extends_cycle(2), "MS105", "r1/ruleset.yaml", 2, 10),
    Hostile("extends-cycle-10", _extends_cycle(10), "MS105", "r9/ruleset.yaml", 2, 10),
    Hostile("extends-root", _extends("/"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-etc", _extends("/etc"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-dev-null", _extends("/dev/null"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-proc-self", _extends("/proc/self"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-dotdot-out", _extends("../" * 40), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-null", _extends("~"), "MS203", "ruleset.yaml", 2, 10),
    Hostile("extends-home", _extends("'~'"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-env-reference", _extends("${env:HOME}"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-nul-byte", _extends('"a\\0b"'), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-long-name", _extends("x" * 5000), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-packaged-escape", _extends("mapsync:../../.."), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-packaged-absolute", _extends("mapsync:/../../../etc"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-packaged-unknown", _extends("mapsync:standard/nowhere"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-fifo", _extends_fifo, "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-symlink-to-dev", _extends_symlink("/dev"), "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-symlink-loop", _extends_loop_symlink, "MS106", "ruleset.yaml", 2, 10),
    Hostile("extends-symlink-to-itself", _extends_symlink("."), "MS105", "ruleset.yaml", 2, 10),
    Hostile("extends-a-list", _extends("[a, b]"), "MS203", "ruleset.yaml", 2, 10),
    Hostile("extends-base-laughs", _extends_base_with(laughs(9).encode()), "MS101", "base/ruleset.yaml", 0),
    Hostile("extends-base-latin1", _extends_base_with(b"name: b\ndescription: \xe9\n"), "MS102",
            "base/ruleset.yaml", 2, 14),
    # -- mapping files that lead elsewhere (a path relative to the folder may leave it: `../shared/x.yaml`) ----
    Hostile("mapping-dotdot-to-passwd", {"ruleset.yaml": RULESET.replace("[customers.yaml]",
                                                                         f"[../{'../' * 30}etc/passwd]")},
            "MS107", "/etc/passwd", 1, 1),
    Hostile("mapping-absolute-passwd", {"ruleset.yaml": RULESET.replace("[customers.yaml]", "[/etc/passwd]")},
            "MS107", "/etc/passwd", 1, 1),
    Hostile("mapping-dev-zero", {"ruleset.yaml": RULESET.replace("[customers.yaml]", "[/dev/zero]")},
            "MS104", "ruleset.yaml", 3, 12),
    Hostile("mapping-dev-stdin", {"ruleset.yaml": RULESET.replace("[customers.yaml]", "[/dev/stdin]")},
            "MS104", "ruleset.yaml", 3, 12),
    Hostile("mapping-proc-environ", {"ruleset.yaml": RULESET.replace("[customers.yaml]", "[/proc/self/environ]")},
            "MS102", "", 0, message="NUL bytes"),
    Hostile("mapping-symlink-out", _mapping_symlink_out, "MS107", "../outside.yaml", 1, 1),
    Hostile("mapping-symlink-to-dev-zero", _mapping_symlink("/dev/zero"), "MS104", "ruleset.yaml", 3, 12),
    Hostile("mapping-symlink-loop", _mapping_symlink_loop, "MS104", "ruleset.yaml", 3, 12),
    Hostile("mapping-fifo", _mapping_fifo, "MS104", "ruleset.yaml", 3, 12, message="not a regular file"),
    Hostile("mapping-nul-byte", {"ruleset.yaml": RULESET.replace("[customers.yaml]", '["a\\0b.yaml"]')},
            "MS104", "ruleset.yaml", 3, 12),
    Hostile("mapping-long-name", {"ruleset.yaml": RULESET.replace("[customers.yaml]", f"[{'x' * 5000}]")},
            "MS104", "ruleset.yaml", 3, 12),
    Hostile("single-file-fifo", _single_fifo, "MS108", "lone.yaml", 0, exit=2, target="lone.yaml"),
    # -- expressions: dunder attributes, builtins, imports ---------------------------------------------------
    *(Hostile(f"expr-{i:02d}-{name}", condition(text), code, "customers.yaml", 6, 8, message=part)
      for i, (name, text, code, part) in enumerate([
          ("dunder-class", "record.__class__ is not None", "MS404", "private attribute"),
          ("mro-walk", "value.__class__.__mro__[1].__subclasses__()", "MS404", "private attribute"),
          ("tuple-subclasses", "().__class__.__bases__[0].__subclasses__()", "MS404", "private attribute"),
          ("dunder-dict", "record.__dict__", "MS404", "private attribute"),
          ("function-globals", "upper.__globals__", "MS404", "private attribute"),
          ("init-globals", "settings.__init__.__globals__['os']", "MS404", "private attribute"),
          ("single-underscore", "record._private", "MS404", "private attribute"),
          ("dunder-in-fstring", "f'{record.__class__}'", "MS404", "private attribute"),
          ("dunder-len-call", "value.__len__()", "MS404", "private attribute"),
          ("import-builtin", "__import__('os').system('id')", "MS403", "unknown function"),
          ("eval", "eval('1')", "MS403", "unknown function"),
          ("exec", "exec('import os')", "MS403", "unknown function"),
          ("open", "open('/etc/passwd')", "MS403", "unknown function"),
          ("getattr", "getattr(value, 'x')", "MS403", "unknown function"),
          ("globals", "globals()", "MS403", "unknown function"),
          ("vars", "vars(record)", "MS403", "unknown function"),
          ("compile", "compile('1', 'f', 'eval')", "MS403", "unknown function"),
          ("type", "type(value)", "MS403", "unknown function"),
          ("breakpoint", "breakpoint()", "MS403", "unknown function"),
          ("input", "input()", "MS403", "unknown function"),
          ("bytearray-bomb", "bytearray(10**9)", "MS403", "unknown function"),
          ("range-bomb", "range(10**12)", "MS403", "unknown function"),
          ("builtins-name", "__builtins__['eval']('1')", "MS402", "unknown name"),
          ("function-as-value", "upper == upper", "MS402", "unknown name"),
          ("attribute-of-builtin", "str.join", "MS402", "unknown name"),
          ("attribute-of-true", "True.__class__", "MS404", "private attribute"),
          # methods of values
          ("method-upper", "value.upper()", "MS403", "method call"),
          ("method-format", "'{0.__class__}'.format(value)", "MS403", "method call"),
          ("method-format-map", "'{x}'.format_map(record)", "MS403", "method call"),
          ("method-dict-get", "record.get('x')", "MS403", "method call"),
          ("method-clear", "settings.clear()", "MS403", "method call"),
          ("call-through-parens", "(value.upper)()", "MS403", "method call"),
          ("call-subscript", "settings['f'](value)", "MS404", "called by name"),
          ("call-a-call", "coalesce(record)(1)", "MS404", "called by name"),
          # lambdas, comprehensions, generators
          ("lambda", "(lambda: 1)()", "MS404", "Lambda"),
          ("list-comprehension", "[x for x in record]", "MS404", "ListComp"),
          ("comprehension-bomb", "[[y for y in split(value)] for x in split(value * 9999)]", "MS404",
           "ListComp"),
          ("set-comprehension", "{x for x in record}", "MS404", "SetComp"),
          ("dict-comprehension", "{x: 1 for x in record}", "MS404", "DictComp"),
          ("generator", "max(x for x in record)", "MS404", "GeneratorExp"),
          ("starred", "[*record]", "MS404", "Starred"),
          ("walrus", "(y := value)", "MS404", "NamedExpr"),
          ("yield", "value if value else (yield)", "MS404", "Yield"),
          ("await", "await value", "MS404", "Await"),
          # statements
          ("import", "import os", "MS404", "single expression"),
          ("from-import", "from os import system", "MS404", "single expression"),
          ("assignment", "x = 1", "MS404", "assignment"),
          ("two-statements", "1; import os", "MS404", "single expression"),
          ("del", "del record", "MS404", "single expression"),
          ("raise", "raise SystemExit", "MS404", "single expression"),
          # huge numbers and texts
          ("power-bomb", "2 ** 99999999 > 0", "MS404", "exponent"),
          ("tower-of-powers", "9 ** 9 ** 9 > 0", "MS404", "exponent"),
          ("power-in-str", "str(9 ** 4000000)", "MS404", "exponent"),
          ("negative-exponent-bomb", "2 ** -99999999 == 0", "MS404", "exponent"),
          ("text-repetition", "'a' * 10 ** 9 == value", "MS404", "cannot be computed"),
          ("list-repetition", "[0] * 10 ** 8 == record", "MS404", "cannot be computed"),
          ("tuple-repetition", "(1,) * 10 ** 9 == record", "MS404", "cannot be computed"),
          ("text-addition", "'" + "x" * 60_000 + "' + '" + "y" * 60_000 + "' == value", "MS404", ""),
          ("shift-bomb", "1 << 10 ** 9 > 0", "MS404", "cannot be computed"),
          # format-string attacks
          ("format-width", "f'{value:>999999999}' == ''", "MS404", "format width"),
          ("format-precision", "f'{value:.999999999f}' == ''", "MS404", "format width"),
          ("format-fill-width", "f'{value:x^100000}' == ''", "MS404", "format width"),
          ("format-nested-spec", "f'{value:{9 * 9}}' == ''", "MS404", "format specification"),
          ("format-nested-conversion", "f'{value!r:{\"9\" * 9}}' == ''", "MS404", "format specification"),
          ("percent-format", "'%999999999s' % value", "MS404", "%-formatting"),
          ("percent-format-fstring", "f'%{value}s' % value", "MS404", "%-formatting"),
          # parser exhaustion
          ("deep-parentheses", "(" * 1000 + "1" + ")" * 1000, "MS401", ""),
          ("deep-unary", "-" * 100_000 + "1", "MS401", "too deeply nested"),
          ("deep-not", "not " * 50_000 + "1", "MS401", "too deeply nested"),
          ("long-sum", "+".join(["1"] * 30_000), "MS401", "too deeply nested"),
          ("deep-lists", "[" * 1000 + "]" * 1000, "MS401", ""),
          ("unclosed-text", "'abc", "MS401", ""),
      ])),
    # -- transforms and switches carry the same checks -------------------------------------------------------
    Hostile("transform-import", transform("__import__('os')"), "MS403", "customers.yaml", 6, 60),
    Hostile("transform-power-bomb", transform("value + 10 ** 10 ** 10"), "MS404", "customers.yaml", 6, 60),
    Hostile("transform-format-width", transform("f'{value:99999999}'"), "MS404", "customers.yaml", 6, 60),
    Hostile("expression-with-nul", mapping('conditions:\n  crm: "record.Name == \'\\0\'"\nfields:\n'
                                           "  - {crm: OrganisationName, erp: Name}\n"), "MS401", "customers.yaml",
            6, 8),
    Hostile("enabled-switch-import", {"ruleset.yaml": RULESET, "customers.yaml": HEAD
                                      + "fields:\n  - {crm: OrganisationName, erp: Name, "
                                      "enabled: \"__import__('os')\"}\n"}, "MS403", "customers.yaml", 6),
    # -- JMESPath extractors ---------------------------------------------------------------------------------
    Hostile("jmespath-deep-brackets", extractor("[" * 5000), "MS405", "customers.yaml", 7),
    Hostile("jmespath-deep-functions", extractor("abs(" * 3000 + "@" + ")" * 3000), "MS405", "customers.yaml", 7),
    Hostile("jmespath-unknown-function", extractor("system('id')"), "MS405", "customers.yaml", 7),
    Hostile("jmespath-bad-literal", extractor("`os.system`"), "MS405", "customers.yaml", 7),
    Hostile("jmespath-operators-only", extractor("&" * 10_000), "MS405", "customers.yaml", 7),
]

NAMES = [case.name for case in CASES]
assert len(NAMES) == len(set(NAMES)), "case names are unique"
