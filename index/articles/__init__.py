"""Articles: how they come in and what a collection holds. Where articles come from (`sources.py`:
files, directories, URLs), fetching URLs without letting them reach the bot's own network
(`fetch.py`), text and metadata out of HTML, Markdown, PDF (`extract.py`), sentences and chunk
windows (`chunking.py`), storing and embedding them (`ingest.py`), and reading them back
(`catalogue.py`: list, find, one article, a quote in context).

Imports downward only: index.search, index.storage, index.inference and the shared modules at the top."""
