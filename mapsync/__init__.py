"""mapsync: a declarative webCRM <-> ERP sync engine. ``mapsync.engine`` runs rule sets; ``mapsync.connectors``
speaks to webCRM, Fortnox and Visma.net; ``mapsync/rules``, ``mapsync/schemas`` and ``mapsync/templates`` are
package data (the standard rule sets, the JSON Schemas of rule files, and the files ``mapsync init`` writes)."""

from pathlib import Path

from mapsync.engine import __version__

__all__ = ["PACKAGE_DIR", "SCHEMAS", "STANDARD_RULES", "TEMPLATES", "__version__"]

PACKAGE_DIR = Path(__file__).resolve().parent
STANDARD_RULES = PACKAGE_DIR / "rules"
SCHEMAS = PACKAGE_DIR / "schemas"
TEMPLATES = PACKAGE_DIR / "templates"
