"""Search: the vector (FAISS) and lexical (BM25) backends, one index per collection, hybrid retrieval
over both (`fusion.py`), the cache of every collection's index kept current with the store
(`cache.py`), and the atomic files those indexes are saved in (`cachefile.py`).

Imports downward only: index.storage (the source the caches are built from) and index.errors."""
