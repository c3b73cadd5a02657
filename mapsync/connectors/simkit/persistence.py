"""Simulator state as one JSON file in a directory, written atomically (temp file + rename).

``JsonStateFile(None)`` keeps nothing on disk (memory-only simulators).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class JsonStateFile:
    """Load and save a JSON document at ``directory / name``."""

    def __init__(self, directory: Path | str | None, name: str = "state.json") -> None:
        self.path: Path | None = Path(directory) / name if directory is not None else None

    def load(self) -> Any | None:
        """The saved document, or None (no directory, or nothing saved yet)."""
        if self.path is None or not self.path.exists():
            return None
        with self.path.open(encoding="utf-8") as fh:
            return json.load(fh)

    def save(self, data: Any) -> None:
        """Write ``data`` so that a crash leaves either the old or the new file, never half of one."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=1, sort_keys=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
