-- 001: versioned cluster configuration (the audit trail of every change).
-- Each row is a whole generation: `content` holds the explicitly set parameters as
-- `key = value` lines; parameters not listed take their documented default.
CREATE TABLE IF NOT EXISTS config_version (
  version     BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  author      VARCHAR(255) NOT NULL,
  comment     VARCHAR(1024) NOT NULL DEFAULT '',
  changes     TEXT NOT NULL,
  content     MEDIUMTEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
