"""The ``mapsync`` command line: one module per command, wired together in ``main``.

Exit codes (contract, README.md "Commands"): ``validate`` 0 valid, 1 problems, 2 usage or unreadable
path; ``init`` 0 written, 1 folder not empty, 2 usage; ``plan`` 0, 1 fatal; ``run`` 0 all synced,
3 quarantined records, 1 fatal.
"""

from mapsync.engine.cli.main import main

__all__ = ["main"]
