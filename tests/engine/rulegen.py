"""Hypothesis strategies that generate whole rule sets (webCRM organisation <-> Fortnox customer).

A generated rule set is a ``GenRuleset``: the mapping's direction and condition and one ``GenRule`` per
field (direction, value map with or without ``map_reverse``, transform, default, write, conflict,
first-contact and on_unmapped policies). ``write_folder`` writes it as a rule set folder
(``ruleset.yaml`` + ``customers.yaml``) for ``mapsync.engine.ruleset.load_ruleset``; the same object serves the
tests as the oracle of what the rules mean (``convert``, ``agree``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

DIRECTIONS = ("both", "crm-to-erp", "erp-to-crm")
CUSTOMER_TYPES = ["Customer", "Private Customer", "Reseller"]


@dataclass(frozen=True)
class FieldSpec:
    """One plain string field pair the generator may use, with the values users type on each side."""

    key: str
    crm: str
    erp: str
    crm_pool: tuple[str, ...]
    erp_pool: tuple[str, ...]
    lossless: dict[str, str] | None = None  # a one-to-one value map (crm -> erp)
    lossy: dict[str, str] | None = None  # a many-to-one value map (crm -> erp)
    lossy_reverse: dict[str, str] | None = None  # its map_reverse (erp -> crm)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "OrganisationName", "Name", ("Acme", "Beta", " Gamma ", ""), ("Acme", "Delta", "Beta ", "")),
    FieldSpec("phone", "OrganisationTelephone", "Phone1", ("+46 1", "+46 2", ""), ("+46 1", "031-3", "")),
    FieldSpec("www", "OrganisationWww", "WWW", ("a.se", "b.se ", ""), ("a.se", "c.se", "")),
    FieldSpec("city", "OrganisationCity", "City", ("Malmö", "Lund", ""), ("Malmö", "Umeå", "")),
    FieldSpec("terms", "OrganisationExtraCustom3", "TermsOfPayment",
              ("30 days", "10 days", "thirty", "60 days", ""), ("30", "10", "60", ""),
              lossless={"30 days": "30", "10 days": "10"},
              lossy={"30 days": "30", "thirty": "30", "10 days": "10"},
              lossy_reverse={"30": "30 days", "10": "10 days"}),
    FieldSpec("type", "OrganisationType", "Type",
              ("Customer", "Private Customer", "Reseller", "Prospect"), ("COMPANY", "PRIVATE", "OTHER"),
              lossless={"Customer": "COMPANY", "Private Customer": "PRIVATE"},
              lossy={"Customer": "COMPANY", "Reseller": "COMPANY", "Private Customer": "PRIVATE"},
              lossy_reverse={"COMPANY": "Customer", "PRIVATE": "Private Customer"}),
)
SPECS = {f.key: f for f in FIELDS}
KEY_CRM, KEY_ERP = "OrganisationExtraCustom1", "CustomerNumber"


def empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def norm(value: Any) -> Any:
    """The engine's normal form of a string field: empty is None."""
    return None if empty(value) else value


class Unmapped(Exception):
    pass


@dataclass(frozen=True)
class GenRule:
    key: str
    direction: str  # effective direction (the mapping's when not given)
    explicit_direction: bool
    map: dict[str, str] | None = None
    map_reverse: dict[str, str] | None = None
    to_erp: str | None = None
    to_crm: str | None = None
    default: str | None = None
    write: str | None = None
    conflict: str | None = None
    first_contact: str | None = None
    on_unmapped: str | None = None

    @property
    def spec(self) -> FieldSpec:
        return SPECS[self.key] if self.key in SPECS else FieldSpec(self.key, KEY_CRM, KEY_ERP, (), ())

    def field_of(self, side: str) -> str:
        return self.spec.crm if side == "crm" else self.spec.erp

    def writes(self, side: str) -> bool:
        return self.direction == "both" or (self.direction == "crm-to-erp") == (side == "erp")

    def value_map_to(self, side: str) -> dict[str, str] | None:
        if side == "erp":
            return self.map
        if self.map_reverse is not None:
            return self.map_reverse
        return {v: k for k, v in self.map.items()} if self.map is not None else None

    def convert(self, target: str, value: Any) -> Any:
        """The value written to ``target`` for ``value`` read on the other side; raises Unmapped."""
        value = norm(value)
        if value is None:
            return None
        vmap = self.value_map_to(target)
        if vmap is not None:
            if value in vmap:
                value = vmap[value]
            elif self.on_unmapped != "pass":
                raise Unmapped(value)
        if (self.to_erp if target == "erp" else self.to_crm) == "strip(value)":
            value = value.strip()
        return norm(value)

    def agree(self, crm: Any, erp: Any) -> bool:
        """Whether two values say the same thing: equal once converted in a direction the rule flows, or one
        side empty and the other the rule's default (written on create)."""
        values = {"crm": norm(crm), "erp": norm(erp)}
        if values["crm"] == values["erp"] and self.map is None and self.to_erp is None and self.to_crm is None:
            return True
        for target in ("crm", "erp"):
            if not self.writes(target):
                continue
            other = "erp" if target == "crm" else "crm"
            try:
                if self.convert(target, values[other]) == values[target]:
                    return True
            except Unmapped:
                pass
            if self.default is not None and values[other] is None:
                try:
                    dflt = self.value_map_to(target) or {}
                    if norm(dflt.get(self.default, self.default)) == values[target]:
                        return True
                except Unmapped:
                    pass
        return False

    def as_yaml(self) -> dict[str, Any]:
        spec = self.spec
        out: dict[str, Any] = {"name": self.key, "crm": spec.crm, "erp": spec.erp}
        if self.explicit_direction:
            out["direction"] = self.direction
        for prop in ("map", "map_reverse", "default", "write", "conflict", "first_contact", "on_unmapped"):
            value = getattr(self, prop)
            if value is not None:
                out[prop] = value
        transform = {k: v for k, v in (("to_erp", self.to_erp), ("to_crm", self.to_crm)) if v}
        if transform:
            out["transform"] = transform
        return out


@dataclass(frozen=True)
class GenRuleset:
    direction: str
    conflict: str | None
    first_contact: str | None
    condition_types: tuple[str, ...] | None  # organisations of these types take part (None: all)
    rules: tuple[GenRule, ...] = field(default_factory=tuple)

    def rule(self, key: str) -> GenRule:
        return next(r for r in self.rules if r.key == key)

    def conflict_of(self, rule: GenRule) -> str:
        return rule.conflict or self.conflict or "erp-wins"

    def first_contact_of(self, rule: GenRule) -> str:
        return rule.first_contact or self.first_contact or "hold"

    def crm_condition(self, org: dict[str, Any]) -> bool:
        return self.condition_types is None or org.get("OrganisationType") in self.condition_types

    def mapping_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": "customers", "crm": "organisation", "erp": "customer", "direction": self.direction,
            "match": [{"crm": KEY_CRM, "erp": KEY_ERP}],
        }
        if self.condition_types is not None:
            out["conditions"] = {"crm": f"record.OrganisationType in {list(self.condition_types)!r}"}
        if self.conflict:
            out["conflict"] = self.conflict
        if self.first_contact:
            out["first_contact"] = self.first_contact
        out["fields"] = [r.as_yaml() for r in self.rules]
        return out

    def yaml_text(self) -> str:
        return yaml.safe_dump(self.mapping_yaml(), sort_keys=False, allow_unicode=True)


RULESET_YAML = """name: generated
systems:
  crm:
    connector: webcrm
    connection:
      base_url: ${env:WEBCRM_BASE_URL}
      api_token: ${env:WEBCRM_API_TOKEN}
  erp:
    connector: fortnox
    connection:
      base_url: ${env:FORTNOX_BASE_URL}
      access_token: ${env:FORTNOX_ACCESS_TOKEN}
settings:
  customer_types: [Customer, Private Customer, Reseller]
mappings:
  - customers.yaml
"""


def write_folder(folder: Path, ruleset: GenRuleset) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ruleset.yaml").write_text(RULESET_YAML, encoding="utf-8")
    (folder / "customers.yaml").write_text(ruleset.yaml_text(), encoding="utf-8")
    return folder


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


@st.composite
def gen_rule(draw: st.DrawFn, spec: FieldSpec, mapping_direction: str) -> GenRule:
    if mapping_direction == "both":
        explicit = draw(st.booleans())
        direction = draw(st.sampled_from(DIRECTIONS)) if explicit else "both"
    else:
        explicit, direction = False, mapping_direction
    vmap = reverse = None
    to_erp = to_crm = None
    if spec.lossless is not None:
        kind = draw(st.sampled_from(["lossless", "lossy", "lossy-no-reverse"]))
        vmap = dict(spec.lossless if kind == "lossless" else spec.lossy or {})
        if kind == "lossy":
            reverse = dict(spec.lossy_reverse or {})
        elif kind == "lossless" and draw(st.booleans()):
            reverse = {v: k for k, v in vmap.items()}  # an explicit inverse
    else:
        to_erp = draw(st.sampled_from([None, "strip(value)"]))
        to_crm = draw(st.sampled_from([None, "strip(value)"]))
    default = draw(_maybe(st.sampled_from([p for p in spec.crm_pool if p.strip()][:2]))) if \
        draw(st.integers(0, 3)) == 0 else None
    return GenRule(
        key=spec.key, direction=direction, explicit_direction=explicit, map=vmap, map_reverse=reverse,
        to_erp=to_erp, to_crm=to_crm, default=default,
        write=draw(st.sampled_from([None, None, "always", "on-create", "if-empty"])),
        conflict=draw(st.sampled_from([None, None, "crm-wins", "erp-wins", "newest-wins", "skip"])),
        first_contact=draw(st.sampled_from([None, None, "crm-wins", "erp-wins", "hold"])),
        on_unmapped=draw(st.sampled_from([None, "hold", "pass", "quarantine"])) if vmap is not None else None,
    )


@st.composite
def rulesets(draw: st.DrawFn) -> GenRuleset:
    direction = draw(st.sampled_from(DIRECTIONS))
    chosen = draw(st.lists(st.sampled_from([f.key for f in FIELDS if f.key != "name"]), unique=True, max_size=5))
    specs = [SPECS["name"], *(SPECS[k] for k in sorted(chosen))]
    rules = [draw(gen_rule(spec, direction)) for spec in specs]
    # the match key is synced as in the standard set: entered in webCRM, assigned by Fortnox when empty
    rules.insert(1, GenRule("customer-number", direction, False, write="if-empty", conflict="crm-wins"))
    condition = draw(st.sampled_from([None, ("Customer", "Private Customer"), tuple(CUSTOMER_TYPES)]))
    return GenRuleset(direction=direction,
                      conflict=draw(st.sampled_from([None, "crm-wins", "erp-wins", "newest-wins", "skip"])),
                      first_contact=draw(st.sampled_from([None, "crm-wins", "erp-wins", "hold"])),
                      condition_types=condition, rules=tuple(rules))


# -- histories ---------------------------------------------------------------------------------------------
def _values(draw: st.DrawFn, ruleset: GenRuleset, side: str, *, some: bool,
            pools: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Field values a user types on ``side``: every field on a create, a few on an edit (blanks included)."""
    out: dict[str, Any] = {}
    for spec in FIELDS:
        if some and not draw(st.booleans()):
            continue
        name = spec.crm if side == "crm" else spec.erp
        pool = (pools or {}).get(name) or (spec.crm_pool if side == "crm" else spec.erp_pool)
        out[name] = draw(st.sampled_from(pool))
    return out


@st.composite
def histories(draw: st.DrawFn, ruleset: GenRuleset,
              pools: Mapping[str, tuple[str, ...]] | None = None) -> list[tuple[Any, ...]]:
    """Steps: ("create", side, number-or-None, values), ("edit", side, index, values), ("pass",); ``pools``
    replaces the values users type in the fields it names (for systems that refuse some)."""
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["create", "create", "edit", "edit", "edit", "pass"]))
        side = draw(st.sampled_from(["crm", "erp"]))
        if kind == "create":
            number = draw(st.sampled_from([None, "100", "101", "102"]))
            steps.append(("create", side, number, _values(draw, ruleset, side, some=False, pools=pools)))
        elif kind == "edit":
            steps.append(("edit", side, draw(st.integers(0, 4)), _values(draw, ruleset, side, some=True, pools=pools)))
        else:
            steps.append(("pass",))
    return steps
