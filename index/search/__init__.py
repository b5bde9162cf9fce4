"""Search: the vector (FAISS) and lexical (BM25) backends, one index per collection, and their cache."""
