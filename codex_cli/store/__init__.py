"""Store: the one write path and the schema.

``schema`` (version and column lists), ``migrations`` (the schema, by numbered
migrations), ``db`` (connections, locking, pooling), ``files`` (safe file
operations), ``ndjson`` (session files) and ``writer`` (every event, live or
imported, is written here). Nothing here imports ``read/``, ``lifecycle/``,
``importers/`` or ``training/``.
"""
