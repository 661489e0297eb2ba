-- 003: quarantined messages, keyed by the scan job id (the quarantine id).
-- The raw message is stored zstd-compressed in `message` (`size` is its original
-- length). Release delivers it once to quarantine.release_relay and marks the row
-- released (status, released_at, released_by, release_reply); a released row stays
-- until it is deleted or aged out after quarantine.retention_days. Times are UTC.
CREATE TABLE IF NOT EXISTS quarantine (
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
  symbols         MEDIUMTEXT NOT NULL,
  reason          VARCHAR(1000) NOT NULL DEFAULT '',
  node_id         VARCHAR(128) NOT NULL DEFAULT '',
  status          VARCHAR(16) NOT NULL DEFAULT 'held',
  released_at     DATETIME(3) NULL,
  released_by     VARCHAR(255) NOT NULL DEFAULT '',
  release_reply   VARCHAR(1000) NOT NULL DEFAULT '',
  message         LONGBLOB NOT NULL,
  KEY idx_quarantine_time (time),
  KEY idx_quarantine_status_time (status, time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
