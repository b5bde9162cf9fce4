"""Asking: a question in, verbatim quotes with citations out, or "the articles don't say".

Read in this order: `evidence.py` (the question's time window, retrieval, the sentences scored by the
cheap formula of `scoring.py`), `judging.py` (the answer-sentence model's verdict on the best of them),
`answering.py` (quotes, citations, abstention, the optional LLM of `llm.py` with its `prompts.py`).
Chat spellings (`casual.py`) and time words (`dates.py`) are read here too; `feedback.py` is the log
of answers given and members' votes on them.

Imports downward only: index.articles, index.search, index.storage, index.inference and the shared
modules at the top; never feeds, summaries or upkeep."""
