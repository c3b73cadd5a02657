"""The baseline of benchmarks/mapping_speed.py: the standard Fortnox customers mapping (webCRM organisation ->
Fortnox customer, as a create sends it) written by hand in plain Python, JSON lines in and out.

What a consultant would write without mapsync: the condition (``OrganisationType`` in the customer types),
each field copied when not empty, the two value maps (type, countries; a value the map lacks is left out),
the defaults of ``TermsOfPayment`` and ``Currency``. The same JSON library and output format as
``mapsync transform`` (``json``, ``ensure_ascii=False``), so that the two outputs are byte for byte equal.

    python benchmarks/handwritten_customers.py INPUT.jsonl OUTPUT.jsonl
"""

from __future__ import annotations

import json
import sys

CUSTOMER_TYPES = ("Customer", "Private Customer")
TYPES = {"Customer": "COMPANY", "Private Customer": "PRIVATE"}
COUNTRIES = {"Sweden": "SE", "Sverige": "SE", "Denmark": "DK", "Danmark": "DK", "Norway": "NO", "Norge": "NO",
             "Finland": "FI", "Germany": "DE", "United Kingdom": "GB", "Estonia": "EE"}
FIELDS = (  # (Fortnox field, webCRM field, value map or None), in the mapping's order
    ("Name", "OrganisationName", None),
    ("CustomerNumber", "OrganisationExtraCustom1", None),
    ("OrganisationNumber", "OrganisationExtraCustom2", None),
    ("Type", "OrganisationType", TYPES),
    ("VisitingAddress", "OrganisationAddress", None),
    ("VisitingZipCode", "OrganisationPostCode", None),
    ("VisitingCity", "OrganisationCity", None),
    ("VisitingCountryCode", "OrganisationCountry", COUNTRIES),
    ("Address1", "OrganisationExtraCustom5", None),
    ("ZipCode", "OrganisationExtraCustom6", None),
    ("City", "OrganisationExtraCustom7", None),
    ("CountryCode", "OrganisationExtraCustom8", COUNTRIES),
    ("Phone1", "OrganisationTelephone", None),
    ("WWW", "OrganisationWww", None),
    ("VATNumber", "OrganisationVatNumber", None),
)
DEFAULTS = (("TermsOfPayment", "OrganisationExtraCustom3", "30"), ("Currency", "OrganisationExtraCustom4", "SEK"))


def customer(org: dict) -> dict:
    out = {}
    for target, source, value_map in FIELDS:
        value = org.get(source)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if value_map is not None:
            value = value_map.get(value)
            if value is None:
                continue
        out[target] = value
    for target, source, default in DEFAULTS:
        value = org.get(source)
        out[target] = default if value is None or (isinstance(value, str) and not value.strip()) else value
    return out


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
        for line in lines:
            org = json.loads(line)
            if org.get("OrganisationType") in CUSTOMER_TYPES:
                out.write(json.dumps(customer(org), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
