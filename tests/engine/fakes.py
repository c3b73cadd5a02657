"""The engine tests' fake systems: the package's in-memory connector (``mapsync.connectors.memory``)."""

from __future__ import annotations

from mapsync.connectors.memory import MemoryConnector


class FakeConnector(MemoryConnector):
    """A fake webCRM, Fortnox or Visma.net for engine tests."""
