"""mapsync engine: rule model, loader, validation, expressions, planner, executor, state store, CLI."""

__version__ = "0.1.0"
