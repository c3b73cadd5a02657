"""Mass change (issue 13): the standard Fortnox rule set, unchanged, against the seeded simulators of
``mapsync sandbox``; after the first import somebody blanks the phone of every Fortnox customer. The next
``mapsync run`` must not wipe the phones in webCRM: the default guardrails (docs/sync.md, "Guardrails") stop
it with one line, exit 1, nothing written to either system; ``plan`` shows what would happen; ``--force``
applies it, and a further pass writes nothing. Prints its figures (``-s``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapsync.engine.sandbox import Sandbox, start_sandbox
from tests.e2e.conftest import ROOT, clean_env

FORTNOX = str(ROOT / "mapsync/rules/standard/fortnox")


ORGANISATIONS = 60  # as many as ``mapsync sandbox`` holds, customers with a phone


@pytest.fixture
def seeded() -> Iterator[Sandbox]:
    """The simulators' demo records and ``ORGANISATIONS`` more customers in webCRM, each with a phone."""
    sandbox = start_sandbox(None, seed=True, realistic_limits=False, products=("webcrm", "fortnox"))
    for n in range(ORGANISATIONS):
        sandbox.simulators["webcrm"].backend.create("organisation", {
            "OrganisationName": f"Kund {n} AB", "OrganisationType": "Customer",
            "OrganisationTelephone": f"+46 8 555 {n:03d}"})
    try:
        yield sandbox
    finally:
        sandbox.stop()


def _cli(sandbox: Sandbox, *args: str) -> tuple[int, dict[str, Any], str]:
    """The real CLI as a process, the clients' own rate limits lifted (``tests/reliability/fastrun.py``: the
    simulators have theirs off too), so 60 creates take a second, not the real systems' pace."""
    done = subprocess.run([sys.executable, "-m", "tests.reliability.fastrun", *args, "--format", "json"], cwd=ROOT,
                          env={**clean_env(), **sandbox.env}, capture_output=True, text=True, timeout=600)
    return done.returncode, json.loads(done.stdout), done.stderr


def _records(sandbox: Sandbox) -> tuple[dict[Any, Any], dict[Any, Any]]:
    webcrm, fortnox = sandbox.simulators["webcrm"].backend.store, sandbox.simulators["fortnox"].backend.store
    crm = {r["OrganisationId"]: dict(r) for r, _ in webcrm.all_dated("organisation")}
    erp = {r["CustomerNumber"]: dict(r) for r, _ in fortnox.all_dated("customer")}
    return crm, erp


def test_blanking_every_phone_in_fortnox_is_stopped_not_spread(seeded: Sandbox, tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite")
    code, _, err = _cli(seeded, "run", FORTNOX, "--state", state, "--first-import")
    assert code in (0, 3), err
    fortnox = seeded.simulators["fortnox"].backend
    crm_before, erp_before = _records(seeded)
    phones_in_webcrm = sum(1 for r in crm_before.values() if r.get("OrganisationTelephone"))
    blanked = 0
    for number, customer in erp_before.items():
        if customer.get("Phone1"):
            fortnox.update("customer", number, {"Phone1": "API_BLANK"})  # how Fortnox blanks
            blanked += 1
    assert blanked > ORGANISATIONS and phones_in_webcrm > ORGANISATIONS, (blanked, phones_in_webcrm)
    crm_blanked, erp_blanked = _records(seeded)

    code, plan, err = _cli(seeded, "plan", FORTNOX, "--state", state)
    assert code == 0, err
    warnings = [w for m in plan["mappings"] for w in m["warnings"] if w.startswith("guardrail:")]
    assert warnings and "a run stops here without --force" in warnings[0], plan["totals"]

    code, stopped, err = _cli(seeded, "run", FORTNOX, "--state", state)
    assert code == 1 and (stopped["fatal"] or "").startswith("guardrail: mapping customers"), (stopped, err)
    assert "would blank crm OrganisationTelephone" in stopped["fatal"], stopped["fatal"]
    assert "Traceback" not in err
    assert _records(seeded) == (crm_blanked, erp_blanked)  # nothing written to either system

    code, forced, err = _cli(seeded, "run", FORTNOX, "--state", state, "--force")
    assert code in (0, 3) and forced["fatal"] is None, (forced, err)
    crm_after, _ = _records(seeded)
    wiped = sum(1 for i, r in crm_after.items() if crm_before[i].get("OrganisationTelephone")
                and not r.get("OrganisationTelephone"))
    assert wiped > 0  # forced: what the user asked for
    code, again, err = _cli(seeded, "run", FORTNOX, "--state", state)
    assert code == 0 and again["totals"].get("updated", 0) == 0 and again["totals"].get("created", 0) == 0, again
    print(f"\nmass change: {blanked} Fortnox phones blanked; run stopped by the guardrail, 0 records written; "
          f"--force wiped {wiped} webCRM phones; the next pass wrote nothing")
