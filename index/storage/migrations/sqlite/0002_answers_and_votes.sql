-- 2: answers given in chat (so that buttons and follow-ups outlive a restart) and members' votes.
CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    asked_by TEXT,
    message_id TEXT,
    created TEXT NOT NULL
);
CREATE INDEX answers_message ON answers (message_id) WHERE message_id IS NOT NULL;
CREATE TABLE feedback (
    answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    created TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
CREATE INDEX feedback_user ON feedback (user_id);

