-- 002: the message log: one row per recorded verdict, keyed by the scan job id.
-- Written by the master's recorder thread before the milter is answered; a job
-- scanned twice keeps its first row (INSERT IGNORE). Times are UTC (the master's
-- sessions use time_zone '+00:00'). `rcpt` holds every envelope recipient, one per
-- line, so a LIKE finds any of them; `symbols` is a JSON array of
-- {"name","score","detail"} objects. Rows older than log.retention_days are aged out.
CREATE TABLE IF NOT EXISTS message_log (
  job_id          VARCHAR(200) NOT NULL PRIMARY KEY,
  time            DATETIME(3) NOT NULL,
  client_ip       VARCHAR(64) NOT NULL DEFAULT '',
  helo            VARCHAR(255) NOT NULL DEFAULT '',
  sender          VARCHAR(512) NOT NULL DEFAULT '',
  rcpt            MEDIUMTEXT NOT NULL,
  subject         VARCHAR(1000) NOT NULL DEFAULT '',
  message_id      VARCHAR(512) NOT NULL DEFAULT '',
  size            BIGINT UNSIGNED NOT NULL DEFAULT 0,
  score           DOUBLE NOT NULL DEFAULT 0,
  action          VARCHAR(16) NOT NULL,
  symbols         MEDIUMTEXT NOT NULL,
  node_id         VARCHAR(128) NOT NULL DEFAULT '',
  config_version  BIGINT UNSIGNED NOT NULL DEFAULT 0,
  scan_us         INT UNSIGNED NOT NULL DEFAULT 0,
  queue_id        VARCHAR(64) NOT NULL DEFAULT '',
  reason          VARCHAR(1000) NOT NULL DEFAULT '',
  KEY idx_log_time (time),
  KEY idx_log_sender (sender(191)),
  KEY idx_log_action_time (action, time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
