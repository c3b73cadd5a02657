"""Validation speed (issue 12, target 6): ``mapsync validate`` of a rule set of 100 mapping files, whole process.

The rule set is made in a temporary folder: the standard Fortnox ``ruleset.yaml`` (systems, settings) listing
100 mapping files, each the standard customers mapping (its condition, match keys, value maps, defaults,
``enabled`` switches) under a name of its own; and the same with expressions of its own in each file
(``distinct_expressions``: none is compiled once for all the files). ``mapsync validate`` runs on each
``--rounds`` times (default 5) as a separate process; the median is compared with the target, under a second.
The CPU time of the process (user + system) is printed too: on a shared machine it is the figure the load does
not inflate. Also printed: the standard Fortnox rule set alone, and a 13 MB rule file refused by its size
(issue 13: it took 31 s of parsing).

The processes run with bytecode, as an installed mapsync does (pip compiles it when it installs): a warm-up run
of each case writes it under a temporary ``PYTHONPYCACHEPREFIX`` first. This machine sets
``PYTHONDONTWRITEBYTECODE``, which would make every start compile mapsync's modules (an editable checkout) from
source again: about 30 ms of CPU a start (``--no-bytecode`` measures that way).

    .venv/bin/python benchmarks/validation_speed.py [--mappings 100] [--rounds 5] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "mapsync" / "rules" / "standard" / "fortnox"
MAPSYNC = Path(sys.executable).parent / "mapsync"
ENV = {**os.environ, "WEBCRM_BASE_URL": "http://127.0.0.1:1", "WEBCRM_API_TOKEN": "t",
       "FORTNOX_BASE_URL": "http://127.0.0.1:1", "FORTNOX_ACCESS_TOKEN": "t"}


def distinct_expressions(text: str, i: int) -> str:
    """The customers mapping with expressions no other file has (same meaning): the condition and switches
    ``and {i} >= 0``, the transforms' ``value`` as ``(value if {i} >= 0 else value)``."""
    text = re.sub(r"(?m)^(  crm: record\..+)$", rf"\1 and {i} >= 0", text)
    text = re.sub(r"(?m)^(\s+enabled: settings\..+)$", rf"\1 and {i} >= 0", text)
    return re.sub(r"\(value([,)])", rf"((value if {i} >= 0 else value)\1", text)


def make_ruleset(folder: Path, count: int, *, distinct: bool = False) -> None:
    customers = (STANDARD / "customers.yaml").read_text(encoding="utf-8")
    names = []
    for i in range(count):
        name = f"customers-{i:03d}"
        text = re.sub(r"(?m)^name: customers$", f"name: {name}", customers)
        (folder / f"{name}.yaml").write_text(distinct_expressions(text, i) if distinct else text, encoding="utf-8")
        names.append(f"  - {name}.yaml")
    ruleset = (STANDARD / "ruleset.yaml").read_text(encoding="utf-8")
    head = ruleset[: ruleset.index("mappings:")]
    (folder / "ruleset.yaml").write_text(head + "mappings:\n" + "\n".join(names) + "\n", encoding="utf-8")


def make_huge(folder: Path) -> None:
    (folder / "ruleset.yaml").write_text("name: huge\nextends: mapsync:standard/fortnox\nmappings: [big.yaml]\n",
                                         encoding="utf-8")
    line = b"  - {crm: OrganisationName, erp: Name}   # padding padding padding padding padding\n"
    (folder / "big.yaml").write_bytes(b"name: big\ncrm: organisation\nerp: customer\nfields:\n"
                                      + line * (13_000_000 // len(line)))


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each validate process, by what it validated: the load-independent figure."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_bytecode(cache: Path) -> None:
    """Child processes read and write bytecode under ``cache`` (whatever this environment says)."""
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(cache)


def timed(path: Path, expected: int, label: str = "") -> float:
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([str(MAPSYNC), "validate", str(path)], capture_output=True, text=True, env=ENV, cwd=ROOT)
    elapsed = time.perf_counter() - started
    CPU.setdefault(label, []).append(_children_cpu() - cpu)
    if done.returncode != expected:
        raise SystemExit(f"validate {path}: exit {done.returncode}, expected {expected}\n{done.stdout[-3000:]}"
                         f"{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mappings", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-bytecode", action="store_true",
                        help="run as this environment says (PYTHONDONTWRITEBYTECODE: modules compiled at each start)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="validation-speed-") as tmp:
        many, distinct, huge = Path(tmp) / "many", Path(tmp) / "distinct", Path(tmp) / "huge"
        for folder in (many, distinct, huge):
            folder.mkdir()
        make_ruleset(many, args.mappings)
        make_ruleset(distinct, args.mappings, distinct=True)
        make_huge(huge)
        if not args.no_bytecode:
            with_bytecode(Path(tmp) / "bytecode")
        for path, expected in ((many, 0), (distinct, 0), (STANDARD, 0), (huge / "big.yaml", 1)):
            timed(path, expected, "warm-up")
        del CPU["warm-up"]
        bytecode = "without bytecode (modules compiled at each start)" if args.no_bytecode else "with bytecode"
        load = os.getloadavg()[0]
        times: dict[str, list[float]] = {"many": [], "distinct": [], "standard": [], "huge": []}
        for _ in range(args.rounds):
            times["many"].append(timed(many, 0, "many"))
            times["distinct"].append(timed(distinct, 0, "distinct"))
            times["standard"].append(timed(STANDARD, 0, "standard"))
            times["huge"].append(timed(huge / "big.yaml", 1, "huge"))
        median = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: statistics.median(v) for k, v in CPU.items()}
        print(f"validation speed: whole `mapsync validate` processes {bytecode}, median of {args.rounds} interleaved "
              f"rounds; load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        many_ok = median["many"] < 1.0
        print(f"  rule set of {args.mappings} mapping files: {median['many']:.2f} s (target under 1 s: "
              f"{'met' if many_ok else 'NOT met'}; ratio to target {median['many']:.2f}); CPU {cpu['many']:.2f} s "
              "(ratio to target " f"{cpu['many']:.2f})  rounds: " + ", ".join(f"{t:.2f}" for t in times["many"]))
        print(f"  the same, each file with expressions of its own (none compiled once for all): "
              f"{median['distinct']:.2f} s, CPU {cpu['distinct']:.2f} s")
        print(f"  standard Fortnox rule set (5 mapping files): {median['standard']:.2f} s, CPU {cpu['standard']:.2f} s")
        print(f"  a 13 MB mapping file given alone, refused by its size (MS110): {median['huge']:.2f} s, CPU "
              f"{cpu['huge']:.2f} s (issue 13: refused after 31 s of parsing)")


if __name__ == "__main__":
    main()
