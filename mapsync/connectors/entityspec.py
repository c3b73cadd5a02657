"""What a client knows about each of its entities, with the one fact every product shares read from the
connector's ``catalogue.yaml``: the id field (written once, in the catalogue).

A product's entity spec subclasses ``EntitySpec`` (a frozen dataclass with ``name`` first) and names its
connector; ``EntityTable`` finds a spec by name, ``RejectedError`` for a name the product does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import ClassVar, Generic, TypeVar

from mapsync.connectors.base import RejectedError
from mapsync.connectors.catalogue import load_catalogue


class EntitySpec:
    """Base of a product's entity spec: ``name`` is its catalogue entity, ``id_field`` comes from there."""

    connector: ClassVar[str]
    name: str

    @cached_property
    def id_field(self) -> str:
        """The catalogue's ``id`` of this entity."""
        found = load_catalogue(self.connector).entity(self.name)
        if found is None:
            raise KeyError(f"{self.connector}/catalogue.yaml has no entity {self.name!r}")
        return found.id_field


S = TypeVar("S", bound=EntitySpec)


class EntityTable(Generic[S]):
    """A product's entity specs by name."""

    def __init__(self, connector: str, specs: Mapping[str, S]) -> None:
        self.connector = connector
        self.specs = dict(specs)

    def __call__(self, name: str) -> S:
        """The entity called ``name``; ``RejectedError`` for names the product does not have here."""
        try:
            return self.specs[name]
        except KeyError:
            raise RejectedError(f"{self.connector} has no entity {name!r} (known: {', '.join(self.specs)})"
                                ) from None
