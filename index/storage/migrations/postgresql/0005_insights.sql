-- 5: insights for moderators. Each logged question's vector, the embedding retrieval made when it was
-- answered (NULL for answers logged before this migration: insights embed those once, then keep them;
-- `vector_model` says which model made it, so a model swap re-embeds), the answer log read and pruned by
-- time (BYLINE_ANSWER_LOG_DAYS), and weekly insights schedules, shaped like the digests'.
ALTER TABLE answers ADD COLUMN question_vector BYTEA;
ALTER TABLE answers ADD COLUMN vector_model TEXT;
CREATE INDEX answers_collection_created ON answers (collection, created);
CREATE INDEX answers_created ON answers (created);
CREATE INDEX feedback_created ON feedback (created);
CREATE TABLE insight_schedules (
    collection TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    minute_of_day INTEGER NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
    days INTEGER NOT NULL,
    created TEXT NOT NULL,
    last_period TEXT
);
