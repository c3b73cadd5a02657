"""Country conversion for rule expressions: ``country_code`` and ``country_name`` (ISO 3166-1 from
``pycountry``), so that every country syncs, not only those a value map lists.

webCRM keeps a free, localised country name (apis/REFERENCE.md: "a localised country name, not an ISO
code"); Fortnox and Visma.net keep ISO alpha-2 codes. ``country_code`` reads an alpha-2 or alpha-3 code,
an English name (short, official or common) or a Swedish, Norwegian (bokmål and nynorsk), Danish or
Finnish name (pycountry's gettext catalogues, plus the few everyday names of ``EXTRA_NAMES``); case,
accents and surrounding blanks do not matter. ``country_name`` gives the name of a code in English (the
common name where ISO's is formal, e.g. "Bolivia") or in one of those languages. A value that names no
country raises ``ValueError``, so the record is quarantined with that reason, never synced blank.

``pycountry`` is imported when a country is first converted, not when expressions are compiled: ``mapsync
validate`` never converts one (a third of its start-up went to importing it).
"""

from __future__ import annotations

import gettext
import hashlib
import importlib.util
import json
import unicodedata
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

LANGUAGES = {"en": None, "sv": "sv", "nb": "nb_NO", "no": "nb_NO", "nn": "nn", "da": "da", "fi": "fi"}
EXTRA_NAMES = {
    "uk": "GB", "great britain": "GB", "england": "GB", "storbritannien": "GB", "storbritannia": "GB",
    "usa": "US", "united states of america": "US", "usa (förenta staterna)": "US", "holland": "NL",
    "hollanti": "NL", "tjeckien": "CZ", "czech republic": "CZ", "ryssland": "RU", "russia": "RU",
    "sydkorea": "KR", "south korea": "KR", "iran": "IR", "vietnam": "VN",
}


def _key(text: str) -> str:
    """``text`` compared without case, accents or extra blanks."""
    if text.isascii():  # no accents to take off (the usual: a name in English)
        return " ".join(text.casefold().replace("\u2019", "'").split())
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold().replace("\u2019", "'"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@cache
def _pycountry() -> ModuleType:
    import pycountry

    return pycountry


@cache
def _translation(language: str) -> gettext.NullTranslations:
    locale = LANGUAGES[language]
    if locale is None:
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", _pycountry().LOCALES_DIR, languages=[locale], fallback=True)


INDEX_FILE = Path(__file__).with_name("country_index.json")
"""``build_index()`` as shipped (``python -m mapsync.engine.countries`` writes it): read in a millisecond where
building it takes pycountry's import and some 3,000 names of 7 catalogues. Used only while its fingerprint is
that of the installed pycountry's data (another pycountry: the index is built, as without the file)."""


def fingerprint() -> str:
    """A digest of what the index is made of: pycountry's ISO 3166-1 data and catalogues of the languages, the
    extra names and the normalisation (found without importing pycountry)."""
    spec = importlib.util.find_spec("pycountry")
    root = Path(spec.origin).parent if spec is not None and spec.origin else None
    digest = hashlib.sha256(repr((sorted(LANGUAGES.items()), sorted(EXTRA_NAMES.items()), _key("Å Ö é"))).encode())
    if root is not None:
        languages = {(locale or "").split("_")[0] for locale in LANGUAGES.values()} - {""}
        sources = [root / "databases" / "iso3166-1.json",
                   *sorted(path for path in (root / "locales").glob("*/LC_MESSAGES/iso3166-1.mo")
                           if path.parts[-3].split("_")[0].split("@")[0] in languages)]
        for source in sources:
            digest.update(source.name.encode() + source.parent.parent.name.encode())
            digest.update(source.read_bytes() if source.is_file() else b"missing")
    return digest.hexdigest()


def build_index() -> dict[str, Any]:
    """``names``: every known spelling (normalised) -> alpha-2; ``alpha2``: the codes; ``alpha3``: alpha-3 ->
    alpha-2; ``fingerprint``: of what it was built from."""
    names: dict[str, str] = {}
    countries = _pycountry().countries
    for country in countries:
        code = country.alpha_2
        english = [country.name, getattr(country, "official_name", None), getattr(country, "common_name", None)]
        for language in LANGUAGES:
            for name in english:
                if name:
                    names.setdefault(_key(_translation(language).gettext(name)), code)
    names.update({_key(name): code for name, code in EXTRA_NAMES.items()})
    return {"fingerprint": fingerprint(), "names": names, "alpha2": sorted(c.alpha_2 for c in countries),
            "alpha3": {c.alpha_3: c.alpha_2 for c in countries}}


@cache
def _index() -> dict[str, Any]:
    """The shipped index when it fits the installed pycountry, else one built now."""
    try:
        shipped = json.loads(INDEX_FILE.read_text(encoding="utf-8"))
        if shipped.get("fingerprint") == fingerprint():
            return {**shipped, "alpha2": frozenset(shipped["alpha2"])}
    except (OSError, ValueError, AttributeError):
        pass
    built = build_index()
    return {**built, "alpha2": frozenset(built["alpha2"])}


def country_code(value: Any) -> str | None:
    """ISO 3166-1 alpha-2 code of a code or a name; None for an empty value; ``ValueError`` if unknown."""
    if value.__class__ is str:
        return _code_of_text(value)  # the usual: a text, its answer remembered (a pass sees few countries)
    if value is None:
        return None
    return _code_of_text(str(value))


@lru_cache(maxsize=4096)
def _code_of_text(value: str) -> str | None:
    """``country_code`` of a text; remembered per text (an unknown one raises again each time)."""
    text = value.strip()
    if not text:
        return None
    index = _index()
    if len(text) in (2, 3) and text.isalpha():
        upper = text.upper()
        found = (upper if upper in index["alpha2"] else None) if len(text) == 2 else index["alpha3"].get(upper)
        if found is not None:
            return str(found)
    code = index["names"].get(_key(text))
    if code is None:
        raise ValueError(f"{text!r} names no country (ISO 3166-1 in English or a Nordic language)")
    return code


def country_name(value: Any, language: str = "en") -> str | None:
    """The name of a country (code or name given) in ``language`` (en, sv, nb/no, nn, da, fi)."""
    if value.__class__ is str and language.__class__ is str:
        return _name_of_text(value, language)
    return _name_of_text(str(value) if value is not None else "", str(language))


@lru_cache(maxsize=4096)
def _name_of_text(value: str, language: str) -> str | None:
    """``country_name`` of a text; remembered per text and language."""
    code = country_code(value)
    if code is None:
        return None
    if language not in LANGUAGES:
        raise ValueError(f"no country names in {language!r} (one of {', '.join(LANGUAGES)})")
    country = _pycountry().countries.get(alpha_2=code)
    assert country is not None  # country_code returned a known code
    english = getattr(country, "common_name", None) or country.name
    if language == "en":
        return str(english)
    return _translation(language).gettext(country.name)


if __name__ == "__main__":  # python -m mapsync.engine.countries: write the shipped index for this pycountry
    INDEX_FILE.write_text(json.dumps(build_index(), ensure_ascii=False, sort_keys=True, indent=0) + "\n",
                          encoding="utf-8")
    print(f"wrote {INDEX_FILE}")
