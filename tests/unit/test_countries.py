"""Country conversion (``engine/countries.py``): the shipped index is the one pycountry gives, and is used only
while it fits the installed pycountry; names compare without case, accents or extra blanks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapsync.engine import countries


def test_the_shipped_index_is_built_from_the_installed_pycountry() -> None:
    shipped = json.loads(countries.INDEX_FILE.read_text(encoding="utf-8"))
    if shipped["fingerprint"] != countries.fingerprint():
        pytest.skip("another pycountry than the index was written for: regenerate with "
                    "`python -m mapsync.engine.countries`")
    built = countries.build_index()
    assert shipped == json.loads(json.dumps(built))


def test_an_index_for_other_data_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "index.json"
    stale.write_text(json.dumps({"fingerprint": "other", "names": {"sverige": "XX"}, "alpha2": ["XX"],
                                 "alpha3": {}}), encoding="utf-8")
    monkeypatch.setattr(countries, "INDEX_FILE", stale)
    countries._index.cache_clear()
    countries._code_of_text.cache_clear()
    try:
        assert countries.country_code("Sverige") == "SE"  # not the stale index's XX
        with pytest.raises(ValueError, match="names no country"):
            countries.country_code("XX")
    finally:
        countries._index.cache_clear()
        countries._code_of_text.cache_clear()


@pytest.mark.parametrize(("text", "code"), [
    ("Sverige", "SE"), ("  sweden ", "SE"), ("SWE", "SE"), ("se", "SE"), ("Danmark", "DK"),
    ("C\u00f4te d\u2019Ivoire", "CI"), ("cote d'ivoire", "CI"), ("Suomi", "FI"), ("Förenade kungariket", "GB"),
    ("UK", "GB")])
def test_names_and_codes_convert(text: str, code: str) -> None:
    assert countries.country_code(text) == code


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_an_ascii_key_is_the_general_one(text: str) -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    general = " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())
    assert countries._key(text) == general
