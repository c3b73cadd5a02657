"""The connector contract (``mapsync.connectors.base.Connector``), one suite for every connector.

Every registered connector runs it against its own simulator over real sockets, and the in-memory connector
(``mapsync.connectors.memory``, which rule tests and the engine's tests use as a system) runs the same
suite, so the fakes cannot drift from what the real clients do. Like the Singer SDK's standard tap tests, a
connector added to the registry is covered by adding its case below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from mapsync.connectors.base import ChangeBatch, Connector, NotFoundError, RejectedError
from mapsync.connectors.conformance import ConformanceCase, cases
from mapsync.connectors.memory import MemoryConnector
from mapsync.connectors.registry import CONNECTOR_NAMES, CONNECTORS, credential_settings, make_client

pytestmark = pytest.mark.e2e


Case = ConformanceCase
CASES = tuple(case for name in CONNECTOR_NAMES for case in cases(name))  # each connector's own (its folder)


def _value(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _simulated(name: str) -> Callable[[], Iterator[Connector]]:
    def connect() -> Iterator[Connector]:
        spec = CONNECTORS[name]
        with spec.start_simulator()(None, rate_limit=None) as simulator:
            env = simulator.env()
            settings = {s: env[spec.env_name(s)] for s in spec.settings if env.get(spec.env_name(s))}
            if spec.credentials:  # one credential kind: the first
                settings = {k: v for k, v in settings.items()
                            if k not in credential_settings(name) or k in spec.credentials[0]}
            client = make_client(name, settings, rate_limit=None)
            try:
                yield client
            finally:
                client.close()
    return connect


def _memory(name: str) -> Callable[[], Iterator[Connector]]:
    def connect() -> Iterator[Connector]:
        yield MemoryConnector(name)  # type: ignore[misc]
    return connect


KINDS = {"simulator": _simulated, "memory": _memory}


@pytest.fixture(params=[(kind, case) for case in CASES for kind in KINDS],
                ids=lambda p: f"{p[0]}-{p[1].connector}-{p[1].entity}")
def subject(request: pytest.FixtureRequest) -> Iterator[tuple[Connector, Case]]:
    kind, case = request.param
    yield from ((client, case) for client in KINDS[kind](case.connector)())


def _read(batch: ChangeBatch) -> list[dict[str, Any]]:
    return list(batch.records)


def test_every_registered_connector_is_covered() -> None:
    assert {case.connector for case in CASES} == set(CONNECTOR_NAMES)


def test_a_created_record_is_returned_whole_and_can_be_read_back(subject: tuple[Connector, Case]) -> None:
    client, case = subject
    created = client.create(case.entity, case.create)
    record_id = client.record_id(case.entity, created)
    assert record_id
    for path, value in _flat(case.create).items():
        assert _value(created, path) == value, path
    fetched = client.get(case.entity, record_id)
    assert fetched is not None
    assert client.record_id(case.entity, fetched) == record_id
    for path, value in _flat(case.create).items():
        assert _value(fetched, path) == value, path
    assert client.get(case.entity, case.unknown_id) is None


def test_a_full_read_gives_every_record_once_with_the_fields_asked_for(subject: tuple[Connector, Case]) -> None:
    client, case = subject
    name = _value(case.create, case.find_by)
    ids = {client.record_id(case.entity, client.create(case.entity, {**case.create, case.find_by: f"{name} {i}"}))
           for i in range(3)}
    batch = client.read_changes(case.entity, None, case.fields)
    assert batch.cursor
    records = _read(batch)
    read_ids = [client.record_id(case.entity, r) for r in records]
    assert len(read_ids) == len(set(read_ids))  # each record once
    assert ids <= set(read_ids)
    for record in records:
        if client.record_id(case.entity, record) in ids:
            for path in _flat(case.create):
                assert _value(record, path) is not None, path  # a list without the field was completed


def test_a_change_after_the_cursor_is_in_the_next_read(subject: tuple[Connector, Case]) -> None:
    client, case = subject
    record_id = client.record_id(case.entity, client.create(case.entity, case.create))
    cursor = _read_all_then_cursor(client, case)
    updated = client.update(case.entity, record_id, case.change)
    for path, value in _flat(case.change).items():
        assert _value(updated, path) == value, path
    assert _value(updated, case.kept) == case.create[case.kept]  # a partial update keeps the rest
    changed = {client.record_id(case.entity, r): r for r in _read(client.read_changes(case.entity, cursor,
                                                                                      case.fields))}
    assert record_id in changed
    for path, value in _flat(case.change).items():
        assert _value(changed[record_id], path) == value, path


def _read_all_then_cursor(client: Connector, case: Case) -> str:
    batch = client.read_changes(case.entity, None, case.fields)
    _read(batch)
    return batch.cursor


def test_find_matches_exactly_and_an_empty_value_matches_nothing(subject: tuple[Connector, Case]) -> None:
    client, case = subject
    value = _value(case.create, case.find_by)
    created = client.create(case.entity, case.create)
    client.create(case.entity, {**case.create, case.find_by: f"{value} and more"})
    found = client.find(case.entity, case.find_by, value)
    assert [client.record_id(case.entity, r) for r in found] == [client.record_id(case.entity, created)]
    assert client.find(case.entity, case.find_by, "") == []
    assert client.find(case.entity, case.find_by, None) == []


def test_updating_a_record_that_does_not_exist_is_not_found(subject: tuple[Connector, Case]) -> None:
    client, case = subject
    with pytest.raises(NotFoundError):
        client.update(case.entity, case.unknown_id, case.change)
    assert issubclass(NotFoundError, RejectedError)  # the engine quarantines it, the pass goes on
