-- 004: learning released messages as ham. A release with learning on sets
-- learn = 'pending'; the master sends the message to a node as a learn job and sets
-- 'done' (learn_reply says what the node did) when a node has learned it. Attempts
-- back off from 1 minute to 1 hour (learn_after); after 10 the row is 'failed'.
-- '' means not to be learned (learning off, or released before this migration).
ALTER TABLE quarantine
  ADD COLUMN IF NOT EXISTS learn VARCHAR(16) NOT NULL DEFAULT '',
  ADD COLUMN IF NOT EXISTS learn_attempts INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS learn_after DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS learn_reply VARCHAR(1000) NOT NULL DEFAULT '',
  ADD KEY IF NOT EXISTS idx_quarantine_learn (learn, learn_after);
