"""Mapping speed (issue 12, target 1): ``mapsync transform`` against a hand-written script and meltano-map-transform.

100,000 webCRM-like organisations (JSON lines) through the standard Fortnox customers mapping (the condition on
``OrganisationType``, the type and country value maps, the defaults of ``TermsOfPayment`` and ``Currency``), as
a create sends them, each command a whole process, JSON lines in and out:

- ``mapsync transform mapsync/rules/standard/fortnox --mapping customers --from crm``;
- ``benchmarks/handwritten_customers.py``: the same mapping by hand, the same JSON library (``json``); its output
  must equal mapsync's byte for byte (checked), so the two do the same work;
- ``meltano-map-transform`` (the Singer SDK's stream maps) with an equivalent map, in a venv of its own
  (``.bench-venv``, made on first use from the package registry; ``--no-meltano`` skips it), reading the same
  records as Singer messages.

The processes run with bytecode, as an installed mapsync does (pip compiles it when it installs): a warm-up
round writes it under a temporary ``PYTHONPYCACHEPREFIX`` (``--no-bytecode``: as the environment says; this
machine sets ``PYTHONDONTWRITEBYTECODE``, which makes every start compile mapsync's modules again).

The three run interleaved, ``--rounds`` times (default 3), and the median of each is compared, by wall time and
by CPU time (user + system of the process: what a shared machine's load inflates least): targets are mapsync
at most 1.3x the hand-written script, and at least 2.5x faster than meltano-map-transform. The load average is
printed with the figures. ``--profile`` prints the top of a cProfile of
mapsync's per-record loop (in process, the rule set compiled before).

    .venv/bin/python benchmarks/mapping_speed.py [--records 100000] [--rounds 3] [--no-meltano] [--profile]
        [--no-bytecode]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULESET = ROOT / "mapsync" / "rules" / "standard" / "fortnox"
BENCH_VENV = ROOT / ".bench-venv"
MAPSYNC = Path(sys.executable).parent / "mapsync"
ENV = {**os.environ, "WEBCRM_BASE_URL": "http://127.0.0.1:1", "WEBCRM_API_TOKEN": "t",
       "FORTNOX_BASE_URL": "http://127.0.0.1:1", "FORTNOX_ACCESS_TOKEN": "t"}

TYPES = ["Customer"] * 6 + ["Private Customer"] * 2 + ["Supplier", "Partner"]
COUNTRIES = ["Sweden", "Sverige", "Denmark", "Norway", "Finland", "Germany", "United Kingdom", "", "Estonia"]
CITIES = ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Aarhus", "Oslo", "Helsinki", "Berlin"]


def organisation(i: int, rnd: random.Random) -> dict[str, object]:
    """A webCRM organisation as the list endpoint gives it: every field present, some empty or null."""
    city = rnd.choice(CITIES)

    def maybe(value: str) -> str | None:
        roll = rnd.random()
        return None if roll < 0.05 else "" if roll < 0.1 else value

    return {
        "OrganisationId": i + 1, "OrganisationName": f"Organisation {i} AB", "OrganisationType": rnd.choice(TYPES),
        "OrganisationAddress": maybe(f"Storgatan {i % 200 + 1}"), "OrganisationPostCode": maybe(f"{10000 + i % 89999}"),
        "OrganisationCity": maybe(city), "OrganisationCountry": rnd.choice(COUNTRIES),
        "OrganisationTelephone": maybe(f"+46 8 {i:07d}"), "OrganisationWww": maybe(f"https://org{i}.example"),
        "OrganisationVatNumber": maybe(f"SE{5560000000 + i}01"), "OrganisationExtraCustom1": maybe(str(1000 + i)),
        "OrganisationExtraCustom2": maybe(f"556{i:07d}"), "OrganisationExtraCustom3": rnd.choice(["", "10", None]),
        "OrganisationExtraCustom4": rnd.choice(["", "EUR", None]), "OrganisationExtraCustom5": maybe("Box 12"),
        "OrganisationExtraCustom6": maybe("11122"), "OrganisationExtraCustom7": maybe(city),
        "OrganisationExtraCustom8": rnd.choice(COUNTRIES), "OrganisationStatus": "Active",
        "OrganisationCreatedAt": "2024-01-02T03:04:05", "OrganisationUpdatedAt": "2025-06-07T08:09:10",
        "OrganisationOwner": 12, "OrganisationDescription": "Imported from the old CRM",
    }


# meltano-map-transform: the same mapping as stream maps (simpleeval expressions over the record's properties)
_COUNTRY_MAP = "{'Sweden': 'SE', 'Sverige': 'SE', 'Denmark': 'DK', 'Danmark': 'DK', 'Norway': 'NO', 'Norge': 'NO', " \
               "'Finland': 'FI', 'Germany': 'DE', 'United Kingdom': 'GB'}"
MELTANO_MAP = {
    "__filter__": "OrganisationType in ('Customer', 'Private Customer')",
    "Name": "OrganisationName",
    "CustomerNumber": "OrganisationExtraCustom1 or None",
    "OrganisationNumber": "OrganisationExtraCustom2 or None",
    "Type": "{'Customer': 'COMPANY', 'Private Customer': 'PRIVATE'}.get(OrganisationType)",
    "VisitingAddress": "OrganisationAddress or None",
    "VisitingZipCode": "OrganisationPostCode or None",
    "VisitingCity": "OrganisationCity or None",
    "VisitingCountryCode": f"{_COUNTRY_MAP}.get(OrganisationCountry)",
    "Address1": "OrganisationExtraCustom5 or None",
    "ZipCode": "OrganisationExtraCustom6 or None",
    "City": "OrganisationExtraCustom7 or None",
    "CountryCode": f"{_COUNTRY_MAP}.get(OrganisationExtraCustom8)",
    "Phone1": "OrganisationTelephone or None",
    "WWW": "OrganisationWww or None",
    "VATNumber": "OrganisationVatNumber or None",
    "TermsOfPayment": "OrganisationExtraCustom3 or '30'",
    "Currency": "OrganisationExtraCustom4 or 'SEK'",
    "__else__": None,
    "__key_properties__": [],
}


def write_inputs(folder: Path, count: int) -> tuple[Path, Path]:
    rnd = random.Random(12)
    plain, singer = folder / "organisations.jsonl", folder / "organisations.singer.jsonl"
    records = [organisation(i, rnd) for i in range(count)]
    with plain.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    schema = {"type": "object", "properties": {
        key: {"type": ["integer", "null"]} if isinstance(value, int) else {"type": ["string", "null"]}
        for key, value in records[0].items()}}
    with singer.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"type": "SCHEMA", "stream": "organisations", "schema": schema,
                              "key_properties": ["OrganisationId"]}) + "\n")
        for record in records:
            out.write(json.dumps({"type": "RECORD", "stream": "organisations", "record": record},
                                 ensure_ascii=False) + "\n")
    return plain, singer


def meltano() -> Path | None:
    """The meltano-map-transform executable of .bench-venv, installed on first use; None when it cannot be."""
    exe = BENCH_VENV / "bin" / "meltano-map-transform"
    if exe.exists():
        return exe
    print("installing meltano-map-transform into .bench-venv (once) ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "meltano-map-transform"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"meltano-map-transform could not be installed ({exc}): its column is left out", file=sys.stderr)
        return None
    return exe if exe.exists() else None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], stdin: Path | None = None, stdout: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process; CPU (user + system) is what the load inflates least."""
    cpu = _children_cpu()
    started = time.perf_counter()
    with (stdin.open("rb") if stdin else open(os.devnull, "rb")) as source, \
            (stdout.open("wb") if stdout else open(os.devnull, "wb")) as sink:
        done = subprocess.run(command, stdin=source, stdout=sink, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed, _children_cpu() - cpu


def _loops(plain: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """mapsync's transform loop (the rule set loaded and compiled before) and the hand-written script's loop,
    each over the input, writing to memory."""
    import io

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import handwritten_customers as hand

    from mapsync.connectors.catalogue import load_catalogue
    from mapsync.engine.ruleset import Side, load_ruleset
    from mapsync.engine.ruleset.compiler import thaw
    from mapsync.engine.sync.bound import bind
    from mapsync.engine.sync.transform import TransformCounts, read_jsonl, transform

    ruleset = load_ruleset(RULESET, ENV).ruleset
    assert ruleset is not None
    mapping = next(m for m in ruleset.mappings if m.name == "customers")
    bound = bind(mapping, {side: load_catalogue(ruleset.system(side).connector) for side in Side}, ruleset.settings)
    settings = thaw(ruleset.settings)

    def loop() -> None:
        out = io.StringIO()
        encode = json.JSONEncoder(ensure_ascii=False, default=str).encode  # as the transform command does
        with plain.open(encoding="utf-8") as stream:
            for values in transform(bound, Side.CRM, read_jsonl(stream), settings, TransformCounts(),
                                    lambda line, message: None):
                out.write(encode(values) + "\n")

    def handwritten() -> None:
        out = io.StringIO()
        with plain.open(encoding="utf-8") as lines:
            for line in lines:
                org = json.loads(line)
                if org.get("OrganisationType") in hand.CUSTOMER_TYPES:
                    out.write(json.dumps(hand.customer(org), ensure_ascii=False) + "\n")

    return loop, handwritten


def per_record(plain: Path, rounds: int) -> None:
    """The loops alone, in this process (no start-up: imports, loading and compiling the rule set), CPU time."""
    loop, handwritten = _loops(plain)
    times: dict[str, list[float]] = {"mapsync": [], "hand-written": []}
    for _ in range(rounds):
        for name, function in (("mapsync", loop), ("hand-written", handwritten)):
            started = time.process_time()
            function()
            times[name].append(time.process_time() - started)
    ours, theirs = statistics.median(times["mapsync"]), statistics.median(times["hand-written"])
    print(f"  per record (the loops alone, in one process, CPU): mapsync {ours:.2f} s, hand-written {theirs:.2f} s: "
          f"{ours / theirs:.2f}x; the rest of the whole-process figure is mapsync's start-up")


def profile(plain: Path) -> None:
    """cProfile of mapsync's transform loop over the input (the rule set loaded and compiled before)."""
    import cProfile
    import io
    import pstats

    loop, _ = _loops(plain)
    profiler = cProfile.Profile()
    profiler.runcall(loop)
    stats = io.StringIO()
    pstats.Stats(profiler, stream=stats).sort_stats("tottime").print_stats(14)
    print("\nprofile of the transform loop (sorted by own time):")
    print("\n".join(line for line in stats.getvalue().splitlines() if line.strip())[:6000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-meltano", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="run as this environment says (PYTHONDONTWRITEBYTECODE: modules compiled at each start)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mapping-speed-") as tmp:
        folder = Path(tmp)
        plain, singer = write_inputs(folder, args.records)
        config = folder / "meltano.json"
        config.write_text(json.dumps({"stream_maps": {"organisations": MELTANO_MAP}}))
        melt = None if args.no_meltano else meltano()
        commands = {
            "mapsync": ([str(MAPSYNC), "transform", str(RULESET), "--mapping", "customers", "--from", "crm",
                         "--input", str(plain), "--output", str(folder / "mapsync.jsonl")], None, None),
            "hand-written": ([sys.executable, str(ROOT / "benchmarks" / "handwritten_customers.py"), str(plain),
                              str(folder / "hand.jsonl")], None, None),
        }
        if melt is not None:
            commands["meltano-map-transform"] = ([str(melt), "--config", str(config)], singer,
                                                 folder / "meltano.jsonl")
        if not args.no_bytecode:  # as an installed mapsync runs: pip compiles its bytecode when it installs
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
        for command, stdin, stdout in commands.values():  # a warm-up round (bytecode written), not counted
            timed(command, stdin, stdout)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        load_before = os.getloadavg()[0]
        for _ in range(args.rounds):
            for name, (command, stdin, stdout) in commands.items():
                wall, cpu = timed(command, stdin, stdout)
                times[name].append(wall)
                cpus[name].append(cpu)
        load_after = os.getloadavg()[0]
        same = (folder / "mapsync.jsonl").read_bytes() == (folder / "hand.jsonl").read_bytes()
        written = sum(1 for _ in (folder / "hand.jsonl").open(encoding="utf-8"))
        median = {name: statistics.median(values) for name, values in times.items()}
        cpu = {name: statistics.median(values) for name, values in cpus.items()}

        bytecode = "without bytecode" if args.no_bytecode else "with bytecode"
        print(f"mapping speed: {args.records:,} organisations -> {written:,} Fortnox customers, whole processes "
              f"{bytecode}, median of {args.rounds} interleaved rounds; load average {load_before:.1f} -> "
              f"{load_after:.1f} on {os.cpu_count()} cores")
        for name, value in median.items():
            rate = args.records / value
            print(f"  {name:<22} {value:6.2f} s  ({rate:,.0f} records/s), CPU {cpu[name]:6.2f} s  rounds: "
                  + ", ".join(f"{t:.2f}" for t in times[name]))
        print(f"  outputs of mapsync and the hand-written script identical: {'yes' if same else 'NO'}")
        for what, figures in (("wall", median), ("CPU", cpu)):
            ratio = figures["mapsync"] / figures["hand-written"]
            print(f"  {what}: mapsync / hand-written: {ratio:.2f}x (target at most 1.3x: "
                  f"{'met' if ratio <= 1.3 else 'NOT met'})")
            if "meltano-map-transform" in figures:
                faster = figures["meltano-map-transform"] / figures["mapsync"]
                print(f"  {what}: meltano-map-transform / mapsync: {faster:.2f}x (target at least 2.5x faster: "
                      f"{'met' if faster >= 2.5 else 'NOT met'})")
        if "meltano-map-transform" not in median:
            print("  meltano-map-transform: not measured")
        per_record(plain, args.rounds)
        if args.profile:
            profile(plain)


if __name__ == "__main__":
    main()
