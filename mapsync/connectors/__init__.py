"""Connectors: one package per product (webcrm, fortnox, vismanet).

Each package holds the API client (I/O only, no mapping logic), its field catalogue as data
(`catalogue.yaml`) and a loopback simulator that speaks the same HTTP API. The contract every
client honours, and the template of ``read_changes``, is in `mapsync.connectors.base`. What the clients share
is in `mapsync.connectors.http` (HTTP plumbing, paginators, bearer tokens, OAuth, error bodies and errors by
status), `mapsync.connectors.entityspec` (entity specs, id fields from the catalogue) and
`mapsync.connectors.fields`; what the simulators share is in `mapsync.connectors.simkit`. One entry in
`mapsync.connectors.registry` registers a connector (docs/connectors.md, "Adding a connector").
"""
