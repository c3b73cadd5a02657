"""Validation speed (issue 12, target 6): ``mapsync validate`` of a rule set of 100 mapping files, whole process.

The rule set is made in a temporary folder: the standard Fortnox ``ruleset.yaml`` (systems, settings) listing
100 mapping files, each the standard customers mapping (its condition, match keys, value maps, defaults,
``enabled`` switches) under a name of its own. ``mapsync validate`` runs on it ``--rounds`` times (default 5)
as a separate process; the median is compared with the target, under a second. The CPU time of the process
(user + system) is printed too: on a shared machine it is the figure the load does not inflate. Also printed:
the same for the standard Fortnox rule set alone, and a 13 MB rule file refused by its size (issue 13: it took
31 s of parsing).

    .venv/bin/python benchmarks/validation_speed.py [--mappings 100] [--rounds 5]
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


def make_ruleset(folder: Path, count: int) -> None:
    customers = (STANDARD / "customers.yaml").read_text(encoding="utf-8")
    names = []
    for i in range(count):
        name = f"customers-{i:03d}"
        (folder / f"{name}.yaml").write_text(re.sub(r"(?m)^name: customers$", f"name: {name}", customers),
                                             encoding="utf-8")
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="validation-speed-") as tmp:
        many, huge = Path(tmp) / "many", Path(tmp) / "huge"
        many.mkdir()
        huge.mkdir()
        make_ruleset(many, args.mappings)
        make_huge(huge)
        load = os.getloadavg()[0]
        times: dict[str, list[float]] = {"many": [], "standard": [], "huge": []}
        for _ in range(args.rounds):
            times["many"].append(timed(many, 0, "many"))
            times["standard"].append(timed(STANDARD, 0, "standard"))
            times["huge"].append(timed(huge / "big.yaml", 1, "huge"))
        median = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: statistics.median(v) for k, v in CPU.items()}
        print(f"validation speed: whole `mapsync validate` processes, median of {args.rounds} interleaved rounds; "
              f"load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        many_ok = median["many"] < 1.0
        print(f"  rule set of {args.mappings} mapping files: {median['many']:.2f} s (target under 1 s: "
              f"{'met' if many_ok else 'NOT met'}; ratio to target {median['many']:.2f}); CPU {cpu['many']:.2f} s "
              "(ratio to target " f"{cpu['many']:.2f})  rounds: " + ", ".join(f"{t:.2f}" for t in times["many"]))
        print(f"  standard Fortnox rule set (5 mapping files): {median['standard']:.2f} s, CPU {cpu['standard']:.2f} s")
        print(f"  a 13 MB mapping file given alone, refused by its size (MS110): {median['huge']:.2f} s, CPU "
              f"{cpu['huge']:.2f} s (issue 13: refused after 31 s of parsing)")


if __name__ == "__main__":
    main()
