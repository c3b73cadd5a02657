"""``mapsync serve``'s scheduler without any system: when passes are due, how they queue for the workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapsync.engine.tenants.serve import Server, TenantState


def _registry(tmp_path: Path, count: int, interval: str = "60s") -> Path:
    lines = [f"defaults: {{interval: {interval}}}", "tenants:"]
    lines += [f"  - {{id: t{n}, ruleset: r, secrets: {{env_file: missing-{n}.env}}}}" for n in range(count)]
    path = tmp_path / "tenants.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_next_pass_is_due_an_interval_after_this_one_started(tmp_path: Path) -> None:
    """Three tenants due at once, one worker: each waits for the one before; its next pass is due 60 s after
    it started, not 60 s after it was queued (which would bunch them up again at every turn)."""
    clock = [1000.0]

    class Queued(Server):
        def run_tenant(self, state: TenantState) -> None:
            clock[0] += 10  # the time this pass took (its secrets are missing: it fails at once, "10 s" here)
            super().run_tenant(state)

    server = Queued(_registry(tmp_path, 3), workers=1, clock=lambda: clock[0])
    server.serve(once=True)
    states = sorted(server.snapshot(), key=lambda s: s.last_started or 0)
    assert [s.passes for s in states] == [1, 1, 1] and all(s.last_status == "not run" for s in states)
    assert [s.last_started for s in states] == [1010.0, 1020.0, 1030.0]
    assert [s.next_due for s in states] == [1070.0, 1080.0, 1090.0]


def test_a_rule_set_checked_at_start_up_is_not_compiled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mapsync serve`` checks every tenant's rule set before serving; the server takes those compiled rule sets
    (1,000 tenants: ~75 s of CPU not spent twice) and still sees a later change of their files."""
    import os

    import mapsync.engine.tenants.tenantpass as tenantpass
    from mapsync.engine.tenants.registry import load_registry

    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text("name: acme\nextends: mapsync:standard/fortnox\n", encoding="utf-8")
    secrets = "WEBCRM_BASE_URL=http://127.0.0.1:9\nWEBCRM_API_TOKEN=t\nFORTNOX_BASE_URL=http://127.0.0.1:9\n"
    (tmp_path / "acme.env").write_text(secrets + "FORTNOX_ACCESS_TOKEN=a\n", encoding="utf-8")
    path = tmp_path / "tenants.yaml"
    path.write_text("tenants:\n  - {id: acme, ruleset: rules, secrets: {env_file: acme.env}}\n", encoding="utf-8")
    registry = load_registry(path)
    assert set(registry.compiled) == {"acme"} and not registry.diagnostics
    server = Server(path)
    server.adopt(registry)
    state = server.states["acme"]
    real = tenantpass.load_ruleset

    def compiles(*args: object, **kwargs: object) -> object:
        raise AssertionError("compiled a second time")

    monkeypatch.setattr(tenantpass, "load_ruleset", compiles)
    assert tenantpass.cached_ruleset(state.tenant, state.cache, state.tenant.environ()) is \
        registry.compiled["acme"].ruleset
    later = os.stat(folder / "ruleset.yaml").st_mtime + 10
    os.utime(folder / "ruleset.yaml", (later, later))
    monkeypatch.setattr(tenantpass, "load_ruleset", real)
    again = tenantpass.cached_ruleset(state.tenant, state.cache, state.tenant.environ())
    assert again is not None and again is not registry.compiled["acme"].ruleset
