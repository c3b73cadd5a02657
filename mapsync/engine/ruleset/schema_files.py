"""Writing the rule files' JSON Schemas into a folder outside mapsync, for editors and CI.

A customer's rule set lives in its own repository, where the ``# yaml-language-server: $schema=...`` line
of a rule file cannot point into the installed package; ``mapsync init`` writes the schemas next to the
rule set (``schemas/``) through ``write_schemas``, the one place that knows which files those are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mapsync.engine.ruleset.schema import SCHEMA_DIR


def write_schemas(out_dir: Path | str) -> list[Path]:
    """Copy every schema mapsync ships (``mapsync/schemas/*.json``: ``ruleset.schema.json``,
    ``mapping.schema.json``) into ``out_dir``, created when missing, replacing files of the same name;
    returns the paths written, sorted."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(SCHEMA_DIR.glob("*.json")):
        shutil.copyfile(source, out / source.name)
        written.append(out / source.name)
    return written
