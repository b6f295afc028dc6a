"""Read: the log read back and presented.

``queries`` (sessions and events), ``search`` (full-text search), ``render``
(transcripts for the terminal and Markdown) and ``export`` (ndjson, jsonl-chat,
csv, markdown). Imports only the core and ``store/``.
"""
