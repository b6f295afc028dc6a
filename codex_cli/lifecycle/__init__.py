"""Lifecycle: keeping the log healthy.

``retention`` (purge), ``rebuild`` (the database from the NDJSON files),
``maintenance`` (migrate, status, check, backup) and ``upgrade`` (session
files to the current NDJSON schema). Imports the core, ``store/`` and ``read/``.
"""
