"""Upkeep: keeping the stores and caches sound. The start-up consistency check (`consistency.py`:
store, FAISS and BM25 agree, or are made to), rebuilding caches and re-embedding (`maintenance.py`),
and copying a whole store into another (`migrate.py`, SQLite to PostgreSQL).

Imports downward only: index.articles, index.search, index.storage, index.inference and the shared
modules at the top."""
