"""Connectors: one package per product (webcrm, fortnox, vismanet).

Each package holds the API client (I/O only, no mapping logic), its field catalogue as data
(`catalogue.yaml`) and a loopback simulator that speaks the same HTTP API. The contract every
client honours is in `mapsync.connectors.base`. What the clients share is in `mapsync.connectors.http` (HTTP
plumbing, bearer tokens, OAuth answers, errors by status) and `mapsync.connectors.fields`; what the
simulators share is in `mapsync.connectors.simkit`.
"""
