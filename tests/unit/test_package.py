"""The package imports under one namespace, ``mapsync``, and exposes its version."""

import mapsync
import mapsync.engine


def test_version() -> None:
    assert mapsync.engine.__version__.count(".") == 2
    assert mapsync.__version__ == mapsync.engine.__version__
