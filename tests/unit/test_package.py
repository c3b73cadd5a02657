"""The package imports and exposes its version."""

import engine


def test_version() -> None:
    assert engine.__version__.count(".") == 2
