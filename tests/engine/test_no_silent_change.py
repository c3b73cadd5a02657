"""No silent change, for customer rule sets (docs/sync.md, "The guarantees"), with fake connectors.

Each test is one of the cases a consultant's rule set exposed: a lossy value map rewriting the
source, a one-way field blanking the other side, an unmapped value blocking the whole record, and a
first contact that left fields apart for good.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from mapsync.engine.ruleset import RuleSet, load_ruleset
from mapsync.engine.state import StateStore
from tests.engine.conftest import ENV, ROOT, World
from tests.state_backends import BACKENDS, open_store

FORTNOX = ROOT / "mapsync/rules/standard/fortnox"


def custom(tmp_path: Path, body: str) -> RuleSet:
    """A customer rule set extending the standard Fortnox one."""
    (tmp_path / "ruleset.yaml").write_text(f"name: custom\nextends: {FORTNOX}\n{body}", encoding="utf-8")
    result = load_ruleset(tmp_path, ENV, for_run=True)
    assert result.ruleset is not None, [d.message for d in result.diagnostics]
    return result.ruleset


# A customer overlay with a lossy type map (Reseller and Customer are both COMPANY); the e2e suite uses it too.
LOSSY_TYPES = """settings:
  customer_types: [Customer, Reseller, Private Customer]
overrides:
  customers:
    fields:
      - name: customer-type
        crm: OrganisationType
        erp: Type
        map: {Customer: COMPANY, Reseller: COMPANY, Private Customer: PRIVATE}
        map_reverse: {COMPANY: Customer, PRIVATE: Private Customer}
"""


def org(name: str, number: str, type_: str = "Customer", **extra: object) -> dict[str, object]:
    return {"OrganisationName": name, "OrganisationType": type_, "OrganisationExtraCustom1": number, **extra}


def test_a_lossy_map_never_rewrites_the_source(store: StateStore, tmp_path: Path) -> None:
    world = World(store, custom(tmp_path, LOSSY_TYPES))
    reseller = world.crm.seed("organisation", org("Reseller AB", "100", "Reseller", OrganisationCountry="Sverige"))
    world.run()
    assert world.erp.records["customer"]["100"]["Type"] == "COMPANY"
    assert world.erp.records["customer"]["100"]["VisitingCountryCode"] == "SE"
    crm_writes = [c for c in world.crm.writes() if c[1] == "organisation"]
    assert crm_writes == []  # nothing written back: Fortnox kept what it was sent
    stored = world.crm.records["organisation"][str(reseller["OrganisationId"])]
    assert stored["OrganisationType"] == "Reseller" and stored["OrganisationCountry"] == "Sverige"
    assert world.run().writes == 0
    # a real change in Fortnox still flows, through map_reverse
    world.erp.edit("customer", "100", Type="PRIVATE")
    world.run()
    assert world.crm.records["organisation"][str(reseller["OrganisationId"])]["OrganisationType"] == \
        "Private Customer"


def test_a_one_way_field_never_blanks_the_side_it_does_not_flow_to(store: StateStore, tmp_path: Path) -> None:
    world = World(store, custom(tmp_path, """overrides:
  customers:
    fields:
      - {crm: OrganisationTelephone, erp: Phone1, direction: crm-to-erp}
"""))
    world.erp.seed("customer", {"CustomerNumber": "200", "Name": "Made in Fortnox", "Type": "COMPANY",
                                "Phone1": "+46 8 1"})
    world.run()
    [made] = world.crm.all("organisation")
    assert not made.get("OrganisationTelephone")  # the rule does not flow to webCRM
    assert world.erp.records["customer"]["200"]["Phone1"] == "+46 8 1"
    world.run()
    world.crm.edit("organisation", str(made["OrganisationId"]), OrganisationName="Renamed")
    world.run()
    assert world.erp.records["customer"]["200"]["Phone1"] == "+46 8 1"  # never blanked
    assert world.erp.records["customer"]["200"]["Name"] == "Renamed"
    world.crm.edit("organisation", str(made["OrganisationId"]), OrganisationTelephone="+46 8 2")
    world.run()
    assert world.erp.records["customer"]["200"]["Phone1"] == "+46 8 2"  # webCRM owns it: its change flows


def test_an_unmapped_value_holds_back_one_field_not_the_record(store: StateStore, tmp_path: Path) -> None:
    world = World(store, custom(tmp_path, """overrides:
  customers:
    fields:
      - name: terms-of-payment
        crm: ${settings.crm_fields.terms_of_payment}
        erp: TermsOfPayment
        map: {30 days: "30", 10 days: "10"}
        map_reverse: {"30": 30 days, "10": 10 days}
"""))
    acme = world.crm.seed("organisation", org("Acme", "100", OrganisationExtraCustom3="30 days"))
    world.run()
    assert world.erp.records["customer"]["100"]["TermsOfPayment"] == "30"
    world.crm.edit("organisation", str(acme["OrganisationId"]), OrganisationExtraCustom3="60 days",
                   OrganisationTelephone="+46 1")
    report = world.run()
    assert report.total("quarantined") == 0 and report.total("held") == 1
    assert world.erp.records["customer"]["100"]["Phone1"] == "+46 1"  # the rest flows
    assert world.erp.records["customer"]["100"]["TermsOfPayment"] == "30"  # held back, not blanked
    [action] = report.mappings[0].actions
    assert "'60 days' is not in the value map" in action.held["terms-of-payment"]
    [link] = store.held_links("customers")
    assert "terms-of-payment" in link.base.held
    # reported again while the map lacks the value; a later pass with the map extended sends it
    assert world.run().total("held") == 1
    world.ruleset = custom(tmp_path, """overrides:
  customers:
    fields:
      - name: terms-of-payment
        crm: ${settings.crm_fields.terms_of_payment}
        erp: TermsOfPayment
        map: {30 days: "30", 10 days: "10", 60 days: "60"}
        map_reverse: {"30": 30 days, "10": 10 days, "60": 60 days}
""")
    report = world.run()
    assert world.erp.records["customer"]["100"]["TermsOfPayment"] == "60"
    assert report.total("held") == 0 and store.held_links("customers") == []


def test_first_contact_fills_empty_sides_and_holds_disagreements(store: StateStore, tmp_path: Path) -> None:
    world = World(store, custom(tmp_path, ""))
    world.crm.seed("organisation", org("Acme AB", "100", OrganisationTelephone="+46 1", OrganisationExtraCustom7="",
                                       OrganisationExtraCustom4=None))
    world.erp.seed("customer", {"CustomerNumber": "100", "Name": "ACME Aktiebolag", "Type": "COMPANY",
                                "City": "Malmö", "Currency": "EUR", "Phone1": ""})
    report = world.run()
    [action] = report.mappings[0].actions
    assert action.action == "link"
    crm = world.crm.all("organisation")[0]
    erp = world.erp.records["customer"]["100"]
    # empty sides filled by the rules' directions
    assert crm["OrganisationExtraCustom7"] == "Malmö" and crm["OrganisationExtraCustom4"] == "EUR"
    assert erp["Phone1"] == "+46 1"
    # different values on both sides: held for review, neither overwritten
    assert crm["OrganisationName"] == "Acme AB" and erp["Name"] == "ACME Aktiebolag"
    assert "held for review" in action.held["name"]
    assert "first contact" in action.reason
    assert world.run().writes == 0
    # a user settles it by changing one side: that change flows
    world.erp.edit("customer", "100", Name="Acme AB (Fortnox)")
    world.run()
    assert world.crm.all("organisation")[0]["OrganisationName"] == "Acme AB (Fortnox)"


def test_first_contact_policy_picks_a_winner(store: StateStore, tmp_path: Path) -> None:
    world = World(store, custom(tmp_path, "overrides:\n  customers:\n    first_contact: erp-wins\n"))
    world.crm.seed("organisation", org("Acme AB", "100"))
    world.erp.seed("customer", {"CustomerNumber": "100", "Name": "ACME Aktiebolag", "Type": "COMPANY"})
    report = world.run()
    assert world.crm.all("organisation")[0]["OrganisationName"] == "ACME Aktiebolag"
    assert "first contact: name differs, erp-wins" in report.mappings[0].actions[0].reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_create_reconciled_after_a_crash_ends_as_an_uninterrupted_one(backend: str, tmp_path: Path) -> None:
    """The customer number Fortnox assigned reaches webCRM, and the default terms stay where they were sent."""
    ruleset = custom(tmp_path, "settings:\n  customer_number_owner: erp\n")
    finals = []
    for crash in (False, True):
        with contextlib.closing(open_store(backend)) as store:
            world = World(store, ruleset)
            world.crm.seed("organisation", {"OrganisationName": "Acme", "OrganisationType": "Customer"})
            if crash:  # killed after the create in Fortnox, before the number was written back and linked
                original = world.crm.update

                def power_cut(*args: object, **kwargs: object) -> object:
                    raise KeyboardInterrupt("power cut")

                world.crm.update = power_cut  # type: ignore[method-assign]
                with contextlib.suppress(KeyboardInterrupt):
                    world.run()
                world.crm.update = original  # type: ignore[method-assign]
                assert not world.crm.all("organisation")[0].get("OrganisationExtraCustom1")
                assert len(world.erp.all("customer")) == 1 and store.count_links("customers") == 0
            world.run()
            assert world.run().writes == 0
            finals.append((world.crm.all("organisation"), world.erp.all("customer"),
                           store.links("customers")[0].base.fields))
    assert finals[0] == finals[1]
    [org], [customer], _ = finals[1]
    assert org["OrganisationExtraCustom1"] == customer["CustomerNumber"]
    assert customer["TermsOfPayment"] == "30" and not org.get("OrganisationExtraCustom3")
