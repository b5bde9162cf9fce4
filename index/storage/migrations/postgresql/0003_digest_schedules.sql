-- 3: scheduled digests, one per collection; `last_period` makes each period's post happen at most once.
CREATE TABLE digest_schedules (
    collection TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    minute_of_day INTEGER NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
    days INTEGER NOT NULL,
    created TEXT NOT NULL,
    last_period TEXT
);
