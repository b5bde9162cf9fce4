-- 1: articles, their sentences and chunks (with vectors), per collection; the revision counter
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE collections (name TEXT PRIMARY KEY, revision INTEGER NOT NULL DEFAULT 0);
CREATE TABLE articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    published TEXT,
    added TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body_end INTEGER NOT NULL,
    source TEXT
);
CREATE UNIQUE INDEX articles_hash ON articles (collection, content_hash);
CREATE UNIQUE INDEX articles_url ON articles (collection, url) WHERE url IS NOT NULL;
CREATE TABLE sentences (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    quotable INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (article_id, idx)
) WITHOUT ROWID;
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX chunks_article ON chunks (article_id);
CREATE INDEX chunks_collection ON chunks (collection);

