"""Tests of the connector toolkit, simulators and clients."""
