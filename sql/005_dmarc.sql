-- 005: DMARC results for aggregate reports (RFC 7489 7.2), one row per recorded job
-- whose From domain publishes a policy with rua=, written by the recorder in the
-- same transaction as the log row (INSERT IGNORE: a job scanned twice counts once).
-- `bulwarkctl dmarc report` groups a day's rows by policy_domain, then by source IP,
-- disposition and results. The policy columns hold the record as published when the
-- message came in (the newest row of a day gives policy_published). `dkim` holds one
-- "domain selector result" line per signature. Rows older than
-- dmarc.report.retention_days are aged out. Times are UTC.
CREATE TABLE IF NOT EXISTS dmarc_result (
  job_id            VARCHAR(200) NOT NULL PRIMARY KEY,
  time              DATETIME(3) NOT NULL,
  policy_domain     VARCHAR(255) NOT NULL,
  from_domain       VARCHAR(255) NOT NULL,
  rua               VARCHAR(1100) NOT NULL DEFAULT '',
  adkim             CHAR(1) NOT NULL DEFAULT 'r',
  aspf              CHAR(1) NOT NULL DEFAULT 'r',
  p                 VARCHAR(16) NOT NULL DEFAULT 'none',
  sp                VARCHAR(16) NOT NULL DEFAULT 'none',
  pct               TINYINT UNSIGNED NOT NULL DEFAULT 100,
  fo                VARCHAR(16) NOT NULL DEFAULT '0',
  source_ip         VARCHAR(64) NOT NULL DEFAULT '',
  envelope_from     VARCHAR(255) NOT NULL DEFAULT '',
  envelope_to       VARCHAR(255) NOT NULL DEFAULT '',
  result            VARCHAR(16) NOT NULL,
  disposition       VARCHAR(16) NOT NULL,
  dkim_aligned      VARCHAR(8) NOT NULL,
  spf_aligned       VARCHAR(8) NOT NULL,
  override          VARCHAR(32) NOT NULL DEFAULT '',
  override_comment  VARCHAR(255) NOT NULL DEFAULT '',
  spf_domain        VARCHAR(255) NOT NULL DEFAULT '',
  spf_scope         VARCHAR(8) NOT NULL DEFAULT 'mfrom',
  spf_result        VARCHAR(16) NOT NULL DEFAULT 'none',
  dkim              TEXT NOT NULL,
  KEY idx_dmarc_domain_time (policy_domain, time),
  KEY idx_dmarc_time (time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Reports mailed, so the daily run sends each (domain, day) once.
CREATE TABLE IF NOT EXISTS dmarc_report (
  policy_domain     VARCHAR(255) NOT NULL,
  day               DATE NOT NULL,
  report_id         VARCHAR(255) NOT NULL,
  sent_at           DATETIME(3) NOT NULL,
  reply             VARCHAR(1000) NOT NULL DEFAULT '',
  PRIMARY KEY (policy_domain, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
