"""Writing mapsync's JSON Schemas into a folder outside mapsync, for editors and CI.

A customer's rule set lives in its own repository, where the ``# yaml-language-server: $schema=...`` line
of a file cannot point into the installed package. ``write_schemas`` is the one place that knows which
files those are: the editor schemas of rule files with the catalogues' entity and field names
(``mapsync.engine.ruleset.editor_schema``: ``ruleset.schema.json``, ``mapping.schema.json``,
``mapping.fortnox.schema.json``, ``mapping.vismanet.schema.json``), and the schemas of the other files
mapsync reads (``ruletest.schema.json`` for rule tests, ``tenants.schema.json`` for a tenants registry).
``mapsync init`` and ``mapsync schema --out`` both write through it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mapsync.engine.ruleset import editor_schema
from mapsync.engine.ruleset.schema import SCHEMA_DIR

OTHER_SCHEMAS = ("ruletest.schema.json", "tenants.schema.json")


def write_schemas(out_dir: Path | str) -> list[Path]:
    """Write the editor schemas and the other shipped schemas into ``out_dir`` (created when missing),
    replacing files of the same name; returns the paths written, sorted."""
    out = Path(out_dir)
    written = editor_schema.write_schemas(out)
    for name in OTHER_SCHEMAS:
        shutil.copyfile(SCHEMA_DIR / name, out / name)
        written.append(out / name)
    return sorted(written)
