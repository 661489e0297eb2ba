/* params.c - the parameter tables and the typed values read against them.
 *
 * A value is kept twice: as the text it was given in (for display, history and
 * snapshots) and parsed (integer milliseconds/bytes, or a double). Lookups by
 * name scan the table linearly; callers that are hot (checks) read their values
 * once when a config generation is built, never per message. */
#include "params.h"
#include "log.h"
#include "rblconf.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the tables ---------------------------------------------------------------- */

#define NOB 0, 0, NULL
static const param_def master_defs[] = {
    {"master_id", P_STR, "", NOB,
     "Name of this master in logs and status; empty means the host name."},
    {"client_endpoint", P_STR, "tcp://127.0.0.1:7400", NOB,
     "ZeroMQ endpoint where milters and bulwarkctl submit jobs and requests (ROUTER)."},
    {"worker_endpoint", P_STR, "tcp://127.0.0.1:7401", NOB,
     "ZeroMQ endpoint scanner nodes connect to for jobs (ROUTER)."},
    {"publish_endpoint", P_STR, "tcp://127.0.0.1:7402", NOB,
     "ZeroMQ endpoint where configuration versions are published (PUB)."},
    {"snapshot_endpoint", P_STR, "tcp://127.0.0.1:7403", NOB,
     "ZeroMQ endpoint that answers configuration snapshot requests (ROUTER)."},
    {"curve_enable", P_BOOL, "yes", NOB,
     "Encrypt and authenticate all cluster sockets with CURVE. Turn off only on an isolated test "
     "bench."},
    {"curve_secret_key", P_STR, "/etc/bulwark/keys/master.key", NOB,
     "Key file (from `bulwarkctl keygen`) holding the master's key pair."},
    {"curve_allow", P_STR, "/etc/bulwark/keys/allowed", NOB,
     "Allow-list of client and node public keys, one `NAME KEY` per line. Re-read on SIGHUP."},
    {"db_host", P_STR, "", NOB, "MariaDB host; empty to use db_socket."},
    {"db_port", P_INT, "3306", 1, 65535, NULL, "MariaDB TCP port."},
    {"db_socket", P_STR, "/run/mysqld/mysqld.sock", NOB,
     "MariaDB Unix socket, used when db_host is empty."},
    {"db_user", P_STR, "bulwark", NOB, "MariaDB user."},
    {"db_password_file", P_STR, "", NOB,
     "File whose first line is the MariaDB password; empty for none."},
    {"db_name", P_STR, "bulwark", NOB, "MariaDB database."},
    {"db_retry", P_DURATION, "2s", 100, 600000, NULL, "Pause between attempts to reach MariaDB."},
    {"config_poll", P_DURATION, "2s", 100, 600000, NULL,
     "How often to look for configuration versions written by another master."},
    {"heartbeat_interval", P_DURATION, "1s", 50, 60000, NULL, "Heartbeat period towards nodes."},
    {"heartbeat_liveness", P_INT, "3", 2, 100, NULL,
     "Heartbeats a node may miss before it is declared dead and its jobs re-dispatched."},
    {"attempt_timeout", P_DURATION, "30s", 100, 3600000, NULL,
     "A job held by one node longer than this is dispatched again to another."},
    {"max_attempts", P_INT, "3", 1, 20, NULL,
     "Dispatches of one job before it is answered tempfail."},
    {"deadline_max", P_DURATION, "10m", 1000, 86400000, NULL,
     "Longest time a job may wait for its result, whatever deadline its client asked for; "
     "a job without a deadline gets 60 s."},
    {"queue_max", P_INT, "20000", 1, 10000000, NULL,
     "Jobs open at once (waiting for a node or on one); beyond it new jobs are answered "
     "tempfail at once."},
    {"max_frame_size", P_SIZE, "64m", 1024, 1073741824, NULL,
     "Largest frame accepted on any socket; a peer sending more is disconnected."},
    {"shutdown_grace", P_DURATION, "10s", 0, 600000, NULL,
     "On SIGTERM, how long to wait for in-flight jobs before answering them tempfail."},
    {"maintenance_interval", P_DURATION, "1h", 1000, 604800000, NULL,
     "How often the master deletes message log and quarantine rows older than "
     "log.retention_days and quarantine.retention_days."},
    {"io_threads", P_INT, "1", 1, 64, NULL, "ZeroMQ I/O threads (CURVE encryption runs in them)."},
    {"user", P_STR, "", NOB,
     "Started as root: switch to this user once sockets are bound and keys read."},
    {"log_level", P_ENUM, "info", 0, 0, "debug|info|warn|error", "Least severe level logged."},
};

static const param_def node_defs[] = {
    {"node_id", P_STR, "", NOB,
     "Name of this node in logs, results and status; empty means the host name."},
    {"master_worker_endpoint", P_STR, "tcp://127.0.0.1:7401", NOB, "The master's worker_endpoint."},
    {"master_publish_endpoint", P_STR, "tcp://127.0.0.1:7402", NOB,
     "The master's publish_endpoint."},
    {"master_snapshot_endpoint", P_STR, "tcp://127.0.0.1:7403", NOB,
     "The master's snapshot_endpoint."},
    {"curve_enable", P_BOOL, "yes", NOB, "Use CURVE towards the master (must match the master)."},
    {"curve_secret_key", P_STR, "/etc/bulwark/keys/node.key", NOB, "This node's key file."},
    {"curve_server_key", P_STR, "/etc/bulwark/keys/master.pub", NOB,
     "The master's public key file."},
    {"workers", P_INT, "0", 0, 1024, NULL, "Scanner worker threads; 0 means one per CPU."},
    {"jobs_per_worker", P_INT, "2", 1, 64, NULL,
     "Jobs queued per worker thread (credit = workers x this); 2 hides the network round trip."},
    {"heartbeat_interval", P_DURATION, "1s", 50, 60000, NULL,
     "Heartbeat period towards the master."},
    {"heartbeat_liveness", P_INT, "3", 2, 100, NULL,
     "Heartbeats from the master that may be missed before the node reconnects."},
    {"reconnect_max", P_DURATION, "16s", 100, 600000, NULL,
     "Longest pause between reconnection attempts."},
    {"max_frame_size", P_SIZE, "64m", 1024, 1073741824, NULL,
     "Largest frame accepted from the master."},
    {"shutdown_grace", P_DURATION, "10s", 0, 600000, NULL,
     "On SIGTERM, how long to finish jobs in hand before handing the rest back."},
    /* -- clamav (node) -- */
    {"clamav_db_dir", P_STR, "", NOB,
     "ClamAV signature directory (freshclam's, usually /var/lib/clamav); empty runs without "
     "ClamAV (CLAM_UNAVAILABLE on every message when check.clamav.enabled)."},
    {"clamav_reload_interval", P_DURATION, "60s", 1000, 86400000, NULL,
     "How often the signature directory is checked for changes; a change loads a new engine "
     "beside the old one, which is freed when its last scan ends."},
    {"clamav_max_filesize", P_SIZE, "100m", 1024, 4294967295.0, NULL,
     "Largest file ClamAV scans (beyond: CLAM_LIMITS)."},
    {"clamav_max_scansize", P_SIZE, "400m", 1024, 4294967295.0, NULL,
     "Most bytes ClamAV reads per message, archives expanded (beyond: CLAM_LIMITS)."},
    {"clamav_max_recursion", P_INT, "16", 1, 64, NULL, "Archive nesting ClamAV follows."},
    {"clamav_max_files", P_INT, "10000", 1, 1000000, NULL, "Files ClamAV scans per message."},
    {"clamav_max_scantime", P_DURATION, "60s", 1000, 3600000, NULL,
     "Longest ClamAV scan of one message (beyond: CLAM_LIMITS)."},
    {"clamav_tmpdir", P_STR, "", NOB,
     "Where libclamav writes the parts it decodes during a scan; empty: a private directory "
     "made at start under /dev/shm (tmpfs; else $TMPDIR or /tmp) and removed at exit."},
    /* -- end clamav (node) -- */
    /* -- redis (node) -- */
    {"redis_server", P_STR, "", NOB,
     "Redis for Bayes and fuzzy hashes: HOST:PORT, [IPv6]:PORT or /path/to/socket; empty runs "
     "without (the checks that need it stay silent)."},
    {"redis_timeout", P_DURATION, "200ms", 10, 60000, NULL,
     "Connect and command timeout towards Redis; a slow Redis costs a check its vote."},
    /* -- end redis (node) -- */
    /* -- dns (node) -- */
    {"dns_forwarders", P_STR, "", NOB,
     "DNS servers every lookup of the checks (SPF, DKIM, DMARC, block lists) is sent to, "
     "separated by commas or spaces: IPv4[:PORT], [IPv6]:PORT or an IPv6 address; empty: the "
     "node resolves by itself from the root servers (full recursion). Answers are cached in "
     "the node either way, negative ones too, for their TTL. A value that is not an address "
     "stops the node at start."},
    {"dns_timeout", P_DURATION, "2s", 50, 60000, NULL,
     "Longest wait for one DNS answer; a lookup that takes longer is a temporary error for "
     "the check that asked (its TEMPERROR symbol), never a stuck worker. A scan's lookups "
     "also end at the job's deadline."},
    {"dns_cache_size", P_SIZE, "64m", 1048576, 4294967295.0, NULL,
     "Memory for cached DNS answers (a third for whole answers, the rest for their records); "
     "about 1 KiB per name. When it is full the least recently used answers go first."},
    {"dns_stub_zones", P_STR, "", NOB,
     "Zones answered by servers of their own, ZONE=IPv4[:PORT] or ZONE=[IPv6]:PORT separated "
     "by commas or spaces (a zone given twice has two servers), e.g. a local rbldnsd mirror "
     "of a block list: `zen.dnsbl.example=127.0.0.1:5353`. Names in the zone go there "
     "instead of to dns_forwarders, asked without recursion: the server must be "
     "authoritative for the zone. A bad entry stops the node at start."},
    /* -- end dns (node) -- */
    {"dkim_key_file", P_STR, "", NOB,
     "File with the cluster key that opens the DKIM signing keys sealed in the configuration "
     "(dkim.sign.DOMAIN.SELECTOR, `bulwarkctl dkim secret` and `dkim seal`); read at start, "
     "before privileges are dropped; mode 600 or 640. Empty: this node signs nothing."},
    {"user", P_STR, "", NOB, "Started as root: switch to this user once keys are read."},
    {"log_level", P_ENUM, "info", 0, 0, "debug|info|warn|error", "Least severe level logged."},
};

static const param_def ctl_defs[] = {
    {"master_endpoint", P_STR, "tcp://127.0.0.1:7400", NOB, "The master's client_endpoint."},
    {"curve_enable", P_BOOL, "yes", NOB, "Use CURVE towards the master (must match the master)."},
    {"curve_secret_key", P_STR, "/etc/bulwark/keys/ctl.key", NOB, "This client's key file."},
    {"curve_server_key", P_STR, "/etc/bulwark/keys/master.pub", NOB,
     "The master's public key file."},
    {"timeout", P_DURATION, "30s", 100, 3600000, NULL,
     "How long to wait for a reply or a scan result."},
    {"window", P_INT, "64", 1, 100000, NULL,
     "Scan jobs `bulwarkctl scan` keeps in flight at once."},
    {"redis_server", P_STR, "", NOB,
     "Redis for `learn` and `scan --local` (HOST:PORT or /path); --redis overrides it."},
};

static const param_def cluster_defs[] = {
    {"policy.tag_score", P_DOUBLE, "5", -1000, 100000, NULL,
     "A total score at or above this tags the message."},
    {"policy.quarantine_score", P_DOUBLE, "10", -1000, 100000, NULL,
     "A total score at or above this quarantines the message."},
    {"policy.reject_score", P_DOUBLE, "15", -1000, 100000, NULL,
     "A total score at or above this rejects the message (5xx)."},
    {"policy.subject_prefix", P_STR, "", NOB,
     "Text put before the Subject of tagged mail; empty for none."},
    {"policy.reject_message", P_STR, "message rejected as spam", NOB,
     "Reason given in the 5xx reply when the score reaches policy.reject_score."},
    {"check.size.enabled", P_BOOL, "yes", NOB, "Run the message size check."},
    {"check.size.max_bytes", P_SIZE, "50m", 1024, 4294967295.0, NULL,
     "Messages larger than this get MSG_TOO_BIG and the action check.size.action."},
    {"check.size.action", P_ENUM, "reject", 0, 0, "none|tag|quarantine|reject",
     "What an over-size message gets; it replaces the action the score would give."},
    {"check.headers.enabled", P_BOOL, "yes", NOB, "Run the header sanity check."},
    {"check.headers.max_future", P_DURATION, "1d", 0, 315360000000.0, NULL,
     "A Date more than this ahead of the scan time gets DATE_IN_FUTURE."},
    {"check.headers.max_past", P_DURATION, "30d", 0, 315360000000.0, NULL,
     "A Date more than this before the scan time gets DATE_IN_PAST."},
    {"check.headers.protected_domains", P_STR, "", NOB,
     "Your domains and brands, comma-separated: a From display name naming one while the "
     "address is elsewhere gets FROM_NAME_IMPERSONATION."},
    {"check.headers.received_tolerance", P_DURATION, "15m", 0, 86400000.0, NULL,
     "Clock skew allowed between Received hops: an older hop dated more than this after a "
     "newer one gets RECEIVED_DATES_DISORDER."},
    {"check.headers.max_received", P_INT, "30", 1, 1000, NULL,
     "More Received fields than this gets RECEIVED_TOO_MANY (a mail loop or a padded "
     "header)."},
    /* -- end check.headers -- */
    /* -- check.mime -- */
    {"check.mime.enabled", P_BOOL, "yes", NOB,
     "Score broken MIME structure (MIME_* symbols); a message that cannot be parsed is still "
     "scanned as raw bytes."},
    {"check.mime.max_parts", P_INT, "1000", 1, 4096, NULL,
     "More leaf parts than this gets MIME_TOO_MANY_PARTS (the model lists at most 4096)."},
    /* -- end check.mime -- */
    {"check.gtube.enabled", P_BOOL, "yes", NOB, "Recognise the GTUBE test string."},
    {"check.gtube.action", P_ENUM, "reject", 0, 0, "none|tag|quarantine|reject",
     "What a message with GTUBE gets; it replaces the action the score would give."},
    {"check.attachments.enabled", P_BOOL, "yes", NOB, "Run the attachment policy check."},
    {"check.attachments.block", P_STR,
     "exe,scr,pif,com,bat,cmd,cpl,msi,msp,jar,js,jse,vbs,vbe,wsf,wsh,hta,ps1,psm1,reg,lnk,scf,"
     "iso,img,vhd,vhdx,application,gadget",
     NOB, "File name extensions refused in attachments, comma-separated (case does not matter)."},
    {"check.attachments.action", P_ENUM, "reject", 0, 0, "none|tag|quarantine|reject",
     "What a message with a blocked attachment gets; it replaces the action the score would "
     "give."},
    {"check.attachments.allow", P_STR, "", NOB,
     "Extensions let through even if check.attachments.block lists them, comma-separated "
     "(the true-type check still applies)."},
    {"check.attachments.block_types", P_STR,
     "application/vnd.microsoft.portable-executable,application/x-dosexec,"
     "application/x-msdownload,application/x-msi,application/x-ms-shortcut,"
     "application/x-executable,application/x-pie-executable,application/x-sharedlib,"
     "application/x-mach-binary,application/java-archive,application/x-iso9660-image,"
     "application/hta,text/x-msdos-batch",
     NOB,
     "True types (libmagic MIME types of the content, whatever the name says) refused in "
     "attachments and archive members, comma-separated."},
    {"check.attachments.allow_types", P_STR, "", NOB,
     "True types let through even if check.attachments.block_types lists them."},
    {"check.attachments.max_size", P_SIZE, "0", 0, 4294967295.0, NULL,
     "An attachment larger than this gets ATTACHMENT_TOO_BIG and check.attachments.limit_action; "
     "0 for no limit."},
    {"check.attachments.max_count", P_INT, "0", 0, 100000, NULL,
     "More attachments than this gets ATTACHMENT_TOO_MANY and check.attachments.limit_action; "
     "0 for no limit."},
    {"check.attachments.limit_action", P_ENUM, "reject", 0, 0, "none|tag|quarantine|reject",
     "What a message over max_size or max_count gets."},
    /* -- check.archives -- */
    {"check.archives.enabled", P_BOOL, "yes", NOB,
     "Open archives (zip, rar, 7z, tar, gz, bz2, xz, iso, cab) and judge their members like "
     "attachments."},
    {"check.archives.max_depth", P_INT, "5", 1, 64, NULL,
     "Archives nested deeper than this are not opened (ARCHIVE_LIMIT)."},
    {"check.archives.max_total_size", P_SIZE, "200m", 1024, 17179869184.0, NULL,
     "Bytes expanded per message before the walk stops (ARCHIVE_LIMIT)."},
    {"check.archives.max_ratio", P_DOUBLE, "100", 2, 1000000, NULL,
     "An archive expanding more than this many times its size is a bomb (ARCHIVE_BOMB)."},
    {"check.archives.max_entries", P_INT, "2000", 1, 1000000, NULL,
     "Members per message before the walk stops (ARCHIVE_LIMIT)."},
    {"check.archives.max_time", P_DURATION, "5s", 10, 600000, NULL,
     "Wall time for the archive walk of one message (ARCHIVE_LIMIT)."},
    {"check.archives.limit_action", P_ENUM, "quarantine", 0, 0, "none|tag|quarantine|reject",
     "What a message whose archives could not be fully opened gets (fail-closed)."},
    {"check.archives.encrypted_action", P_ENUM, "quarantine", 0, 0, "none|tag|quarantine|reject",
     "What a message with an encrypted archive gets."},
    {"check.archives.try_passwords", P_BOOL, "no", NOB,
     "Try words from the message text as passwords of encrypted archives; an archive opened "
     "this way is judged by its members (ARCHIVE_DECRYPTED)."},
    {"check.archives.max_passwords", P_INT, "20", 1, 1000, NULL,
     "Candidate passwords tried per encrypted archive."},
    /* -- end check.archives -- */
    /* -- check.office -- */
    {"check.office.enabled", P_BOOL, "yes", NOB,
     "Look for macros in Office files (OLE2 and OOXML) and active content in PDFs."},
    {"check.office.macro_action", P_ENUM, "none", 0, 0, "none|tag|quarantine|reject",
     "What a message with an Office macro gets beyond its score; `none` leaves it to the score."},
    {"check.office.autoexec_action", P_ENUM, "quarantine", 0, 0, "none|tag|quarantine|reject",
     "What a message with a macro that runs on open (AutoOpen, Document_Open...) gets."},
    /* -- end check.office -- */
    /* -- check.html -- */
    {"check.html.enabled", P_BOOL, "yes", NOB,
     "Score phishing signals in HTML and URLs (forms, scripts, hidden text, deceptive links)."},
    {"check.html.shorteners", P_STR,
     "bit.ly,bitly.com,tinyurl.com,goo.gl,t.co,ow.ly,is.gd,buff.ly,rebrand.ly,cutt.ly,"
     "shorturl.at,tiny.cc,rb.gy,t.ly,bit.do,lnkd.in,s.id,v.gd,qr.ae,tr.im",
     NOB, "Hosts of URL shorteners (URL_SHORTENER), comma-separated."},
    {"check.html.redirectors", P_STR,
     "list-manage.com,mcsv.net,mailchi.mp,sendgrid.net,mailgun.org,mandrillapp.com,"
     "hubspotlinks.com,hs-sites.com,rs6.net,createsend.com,cmail19.com,cmail20.com,"
     "exacttarget.com,awstrack.me,mlsend.com,klclick.com,klclick1.com,sparkpostmail.com,"
     "mjt.lu,sendibt3.com,sendinblue.com,brevo.com,outlook.com,urldefense.com,"
     "urldefense.proofpoint.com,mimecast.com,linkedin.com,doubleclick.net",
     NOB,
     "Registrable domains of click-tracking and link-rewriting services: a link through one is "
     "never a deceptive link (URL_DECEPTIVE_LINK), comma-separated."},
    /* -- end check.html -- */
    /* -- check.clamav -- */
    {"check.clamav.enabled", P_BOOL, "yes", NOB,
     "Scan with ClamAV (libclamav in the node; signatures from the node's clamav_db_dir)."},
    {"check.clamav.action", P_ENUM, "reject", 0, 0, "none|tag|quarantine|reject",
     "What a message with a virus (CLAM_VIRUS) gets."},
    {"check.clamav.heuristics", P_BOOL, "yes", NOB,
     "ClamAV heuristics (CLAM_HEURISTIC: a weight, no forced action): encrypted archives and "
     "documents, Office macros, phishing (cloaked URLs, spoofed domains), broken executables. "
     "Limits are detected either way (CLAM_LIMITS)."},
    {"check.clamav.limits_action", P_ENUM, "quarantine", 0, 0, "none|tag|quarantine|reject",
     "What a message ClamAV could not scan in full (CLAM_LIMITS) gets (fail-closed)."},
    /* -- end check.clamav -- */
    /* -- check.rules -- */
    {"check.rules.enabled", P_BOOL, "yes", NOB,
     "Run the rule set (header, body, URI and meta rules, compiled into one matcher)."},
    {"check.rules.builtin", P_BOOL, "yes", NOB,
     "Load the starter rule set built into the binary (node/rules/*.rules, docs/rules.md)."},
    {"check.rules.files", P_STR, "", NOB,
     "Extra rule files, comma-separated paths read when the configuration is applied; a rule "
     "named like an earlier one replaces it. A bad file refuses the configuration version."},
    /* -- end check.rules -- */
    /* -- check.bayes -- */
    {"check.bayes.enabled", P_BOOL, "yes", NOB,
     "Run the Bayesian classifier (tokens in Redis; needs the node's redis_server)."},
    {"check.bayes.min_learned", P_INT, "200", 1, 100000000, NULL,
     "Spam AND ham messages a scope (user, domain, global) must have learned before it votes."},
    {"check.bayes.spam_threshold", P_DOUBLE, "0.5", 0.5, 1, NULL,
     "Spam probability above which BAYES_SPAM is added (weight scaled from 0 here to 1.0 at 1)."},
    {"check.bayes.ham_threshold", P_DOUBLE, "0.1", 0, 0.5, NULL,
     "Spam probability up to which BAYES_HAM is added (weight scaled 0.5 here to 1.0 at 0)."},
    {"check.bayes.max_tokens", P_INT, "1000", 10, 100000, NULL,
     "Most distinct tokens taken from one message, classifying and learning (a fixed sample: "
     "the smallest hashes; bulwarkctl learn takes it from --set or --config)."},
    {"check.bayes.osb_window", P_INT, "0", 0, 5, NULL,
     "Word pairs (OSB) of the Subject and body text: 0 (or 1) none, 2..5 each word "
     "with the next 1..4 words, the distance in the pair. A scope learned with one window is "
     "refused by scans and learners with another (docs/bayes.md)."},
    {"check.bayes.max_used", P_INT, "150", 1, 10000, NULL,
     "Most significant tokens combined into the probability."},
    {"check.bayes.min_strength", P_DOUBLE, "0.1", 0, 0.49, NULL,
     "Tokens whose probability is closer than this to 0.5 are ignored."},
    {"check.bayes.min_token_hits", P_INT, "1", 1, 1000, NULL,
     "Tokens learned fewer times than this (spam + ham) are ignored."},
    {"check.bayes.autolearn", P_BOOL, "yes", NOB,
     "Learn messages the other checks score clearly (into the global scope); needs Redis."},
    {"check.bayes.autolearn_spam", P_DOUBLE, "12", -1000, 100000, NULL,
     "Score without BAYES_* symbols from which a message is learned as spam."},
    {"check.bayes.autolearn_ham", P_DOUBLE, "-1", -100000, 1000, NULL,
     "Score without BAYES_* symbols up to which a passed message is learned as ham."},
    /* -- end check.bayes -- */
    /* -- check.fuzzy -- */
    {"check.fuzzy.enabled", P_BOOL, "yes", NOB,
     "Match near-duplicates of learned spam (shingle hashes in Redis)."},
    {"check.fuzzy.threshold", P_DOUBLE, "0.5", 0.05, 1, NULL,
     "Fraction of the 32 min-hash positions that must match learned spam for FUZZY_SPAM "
     "(its weight is scaled by the fraction)."},
    {"check.fuzzy.ttl", P_DURATION, "720h", 60000, 31536000000.0, NULL,
     "How long a learned spam or ham signature is kept in Redis (default 30 days)."},
    {"check.fuzzy.min_words", P_INT, "10", 3, 100000, NULL,
     "Messages with fewer words of visible text (3 characters or more) are not hashed."},
    /* -- end check.fuzzy -- */
    /* -- check.rspamd -- */
    {"check.rspamd.enabled", P_BOOL, "yes", NOB,
     "Ask rspamd for its verdict when check.rspamd.url is set."},
    {"check.rspamd.url", P_STR, "", NOB,
     "rspamd's normal worker, e.g. http://127.0.0.1:11333 (the message is POSTed to "
     "URL/checkv2); empty: the check does nothing."},
    {"check.rspamd.timeout", P_DURATION, "5s", 100, 120000, NULL,
     "Longest wait for rspamd's answer; then RSPAMD_UNAVAILABLE and the scan goes on."},
    {"check.rspamd.weight", P_DOUBLE, "1", 0, 100, NULL,
     "RSPAMD_SCORE is this times rspamd's score (negative scores count too)."},
    /* -- end check.rspamd -- */
    /* -- check.rbl -- */
    {"check.rbl.enabled", P_BOOL, "yes", NOB,
     "Look the client address, sender domains and URL hosts up in the DNS block lists "
     "defined as rbl.list.NAME.* (none by default: public lists need their terms accepted "
     "and a resolver of your own; docs/rbl.md). Needs the node's resolver (dns_*)."},
    {"rbl.trusted_networks", P_STR,
     "127.0.0.0/8, ::1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "
     "fc00::/7",
     NOB,
     "Addresses and CIDR networks never looked up in IP lists (the client, Received hops) "
     "and whose clients get no DNS checks (check.dnscheck), comma-separated: loopback, "
     "private and ULA space by default; add your own relays."},
    {"rbl.max_url_hosts", P_INT, "20", 1, 200, NULL,
     "Names from URLs looked up per URI list and message (registrable domains first, then "
     "hosts that differ from theirs); the detail says when a message had more."},
    {"rbl.max_received", P_INT, "3", 1, 20, NULL,
     "Received hops below the client whose addresses are looked up in lists with "
     "on=received (topmost first, trusted networks skipped)."},
    {"rbl.cache_ttl", P_DURATION, "5m", 0, 86400000, NULL,
     "How long list answers (\"not listed\" included) are kept in the cluster's Redis "
     "(redis_server), so one node's lookup serves them all; 0: no Redis cache, only each "
     "node's resolver cache."},
    /* -- end check.rbl -- */
    /* -- check.dnscheck -- */
    {"check.dnscheck.enabled", P_BOOL, "no", NOB,
     "DNS sanity of the connection: client without reverse DNS (RDNS_NONE) or whose name "
     "does not lead back to it (RDNS_NOT_FCRDNS), envelope sender domain that cannot receive "
     "mail (SENDER_DOMAIN_NO_MX_A), HELO not a name or not this client's (HELO_*). Skipped "
     "for rbl.trusted_networks and authenticated submitters; needs a resolver that sees the "
     "public DNS (one that answers NXDOMAIN for everything would add these symbols to every "
     "message), hence off until you turn it on."},
    /* -- end check.dnscheck -- */
    /* -- check.spf -- */
    {"check.spf.enabled", P_BOOL, "yes", NOB,
     "Check SPF (RFC 7208): may the client send for the MAIL FROM domain (and for its HELO "
     "name)? Records are looked up in DNS (the node's dns_* parameters), so without a "
     "resolver the check says nothing."},
    {"check.spf.helo", P_BOOL, "yes", NOB,
     "Also check the HELO name's own record (SPF_HELO_PASS, SPF_HELO_FAIL, SPF_HELO_SOFTFAIL; "
     "its other results add nothing). A null sender's MAIL FROM check already is the HELO "
     "check."},
    {"check.spf.trusted_networks", P_STR, "127.0.0.0/8,::1", NOB,
     "Clients never checked (no SPF symbol), comma-separated addresses and CIDR networks: "
     "your own relays and submission hosts. Authenticated submitters (SASL) are never "
     "checked either."},
    {"check.spf.fail_action", P_ENUM, "none", 0, 0, "none|tag|quarantine|reject",
     "What a message gets whose MAIL FROM domain fails SPF (SPF_FAIL); `none` leaves it to the "
     "score and to DMARC."},
    /* -- end check.spf -- */
    /* -- check.dkim -- */
    {"check.dkim.enabled", P_BOOL, "yes", NOB,
     "Verify DKIM signatures (RFC 6376, Ed25519 RFC 8463); keys are looked up in DNS (the "
     "node's dns_* parameters), so without a resolver the check says nothing."},
    {"check.dkim.max_signatures", P_INT, "5", 1, 50, NULL,
     "Signatures verified per message, topmost first; further ones are counted in the detail "
     "only (each costs a key lookup and a public-key operation)."},
    {"check.dkim.rsa_sha1", P_ENUM, "fail", 0, 0, "fail|weak",
     "rsa-sha1 signatures: `fail` (RFC 8301: DKIM_FAIL without checking) or `weak` (checked; "
     "a valid one passes, flagged as weak in the detail)."},
    {"check.dkim.min_rsa_bits", P_INT, "1024", 1024, 8192, NULL,
     "RSA keys shorter than this fail (RFC 8301 requires at least 1024)."},
    {"check.dkim.future_tolerance", P_DURATION, "5m", 0, 604800000, NULL,
     "Clock skew allowed for a signature's timestamp (t=) ahead of the scan time; later is "
     "DKIM_PERMERROR."},
    {"check.dkim.action", P_ENUM, "none", 0, 0, "none|tag|quarantine|reject",
     "What a message gets whose signatures include a failing one and no passing one (keys in "
     "test mode aside); `none` leaves it to the score."},
    {"check.dkim.sign_networks", P_STR, "", NOB,
     "Clients (addresses or CIDR networks, comma-separated) whose mail is signed when its "
     "From domain has a key (dkim.sign.DOMAIN.SELECTOR); mail from SASL-authenticated "
     "submitters is signed whatever their address."},
    /* -- end check.dkim -- */
    /* -- check.arc -- */
    {"check.arc.enabled", P_BOOL, "yes", NOB,
     "Validate ARC chains (RFC 8617: ARC_PASS, ARC_FAIL, ARC_TEMPERROR, ARC_NONE); sealers' "
     "keys are looked up in DNS (the node's dns_* parameters), so without a resolver the check "
     "says nothing."},
    {"check.arc.trusted_sealers", P_STR, "", NOB,
     "Domains (ARC-Seal d=; a domain covers its subdomains) whose seals you trust, "
     "comma-separated: your mailing lists and forwarders. A passing chain whose newest sealer "
     "is listed gets ARC_TRUSTED, and a DMARC failure that the results it recorded explain is "
     "not enforced."},
    /* -- end check.arc -- */
    /* -- check.dmarc -- */
    {"check.dmarc.enabled", P_BOOL, "yes", NOB,
     "Evaluate the From domain's DMARC policy (RFC 7489) with the SPF and DKIM results; the "
     "policy is looked up in DNS (the node's dns_* parameters), so without a resolver the "
     "check says nothing."},
    {"check.dmarc.reject_action", P_ENUM, "reject", 0, 0, "none|tag|quarantine|reject",
     "What a message gets when DMARC fails and the policy says p=reject (or sp=reject); `none` "
     "leaves it to the score."},
    {"check.dmarc.quarantine_action", P_ENUM, "quarantine", 0, 0, "none|tag|quarantine|reject",
     "What a message gets when DMARC fails and the policy says quarantine (or reject, when "
     "pct= did not select the message)."},
    {"check.dmarc.none_action", P_ENUM, "none", 0, 0, "none|tag|quarantine|reject",
     "What a message gets when DMARC fails and the policy says p=none (monitoring only)."},
    {"check.dmarc.exempt_domains", P_STR, "", NOB,
     "From domains whose policy is evaluated and reported but never enforced (a partner whose "
     "mail is known to break alignment); a domain covers its subdomains. Comma-separated."},
    {"check.dmarc.trusted_networks", P_STR, "127.0.0.0/8,::1", NOB,
     "Client networks (addresses or CIDR, comma-separated) whose mail is not checked at all: "
     "your own outbound relays and internal hosts (keep it in step with "
     "check.spf.trusted_networks)."},
    {"check.dmarc.skip_authenticated", P_BOOL, "yes", NOB,
     "Do not check mail from SASL-authenticated submitters (the envelope's auth_user)."},
    /* -- end check.dmarc -- */
    {"auth.authserv_id", P_STR, "", NOB,
     "The authserv-id of the Authentication-Results field added to every scanned message "
     "(RFC 8601), e.g. mx.example.org; incoming fields with this id are forged and deleted. "
     "Empty: each node's host name (set one name for the whole cluster)."},
    /* -- dmarc.report -- */
    {"dmarc.report.org_name", P_STR, "", NOB,
     "org_name of the aggregate reports this cluster sends (RFC 7489 7.2.1.1); `bulwarkctl "
     "dmarc report --send` refuses to send without it."},
    {"dmarc.report.email", P_STR, "", NOB,
     "The reports' contact address and the From of the report mails; its domain is the "
     "receiver part of the report file names."},
    {"dmarc.report.extra_contact_info", P_STR, "", NOB,
     "Optional extra_contact_info of the reports (a URL or phone number)."},
    {"dmarc.report.relay", P_STR, "smtp://127.0.0.1:25", NOB,
     "Where the master hands report mails to: an SMTP server that delivers to the Internet, as "
     "smtp://HOST:PORT."},
    {"dmarc.report.retention_days", P_INT, "14", 1, 3650, NULL,
     "DMARC results kept for reports (one row per message whose From domain asks for reports); "
     "older rows are deleted every maintenance_interval."},
    /* -- end dmarc.report -- */
    {"quarantine.retention_days", P_INT, "30", 1, 3650, NULL,
     "Quarantined messages older than this are deleted (checked every maintenance_interval, "
     "default hourly)."},
    {"quarantine.release_relay", P_STR, "smtp://127.0.0.1:25", NOB,
     "Where `bulwarkctl quarantine release` delivers a message: the protected mail server, "
     "as smtp://HOST:PORT."},
    {"quarantine.learn_on_release", P_BOOL, "yes", NOB,
     "Learn a released message as ham (Bayes in the global scope, and the fuzzy store): the "
     "master sends it to a node as a learn job, retried with backoff until a node has learned "
     "it. `bulwarkctl quarantine release --no-learn` skips it for one release."},
    {"log.retention_days", P_INT, "90", 1, 3650, NULL,
     "Message log rows older than this are deleted (checked every maintenance_interval, default "
     "hourly)."},
};

static const param_def milter_defs[] = {
    {"milter_socket", P_STR, "inet:127.0.0.1:7410", NOB,
     "Where Postfix reaches the milter: inet:HOST:PORT, inet6:HOST:PORT or unix:PATH (0660)."},
    {"master_endpoint", P_STR, "tcp://127.0.0.1:7400", NOB, "The master's client_endpoint."},
    {"curve_enable", P_BOOL, "yes", NOB, "Use CURVE towards the master (must match the master)."},
    {"curve_secret_key", P_STR, "/etc/bulwark/keys/milter.key", NOB,
     "This milter's key file (role client on the master's allow-list)."},
    {"curve_server_key", P_STR, "/etc/bulwark/keys/master.pub", NOB,
     "The master's public key file."},
    {"scan_timeout", P_DURATION, "60s", 1000, 3600000, NULL,
     "Longest wait for a verdict; then the message gets 4xx (or is accepted with fail_open). "
     "Keep it below Postfix's milter_content_timeout."},
    {"fail_open", P_BOOL, "no", NOB,
     "When no verdict can be had (master unreachable, timeout), accept the message unscanned "
     "instead of answering 4xx."},
    {"max_message_size", P_SIZE, "64m", 1024, 1073741824, NULL,
     "Messages larger than this are refused with 552 5.3.4 without a scan; keep it at or above "
     "Postfix's message_size_limit."},
    {"header_prefix", P_STR, "X-Bulwark", NOB,
     "Prefix of the headers added to accepted mail (-Id, -Score, -Status, -Symbols)."},
    {"threads", P_INT, "0", 0, 4096, NULL,
     "Most SMTP connections handled at once; 0 leaves it to libmilter."},
    {"user", P_STR, "", NOB, "Started as root: switch to this user once the socket is open."},
    {"log_level", P_ENUM, "info", 0, 0, "debug|info|warn|error", "Least severe level logged."},
};

#define TABLE(var, t, f, i, d, dp, dd, sp)                                                         \
    const param_table var = {t, f, i, d, sizeof d / sizeof d[0], dp, dd, sp}

TABLE(params_master, "bulwark-master", "/etc/bulwark/master.conf",
      "Read by `bulwark-master -c FILE` at start.", master_defs, NULL, NULL, false);
TABLE(params_node, "bulwark-node", "/etc/bulwark/node.conf",
      "Read by `bulwark-node -c FILE` at start.", node_defs, NULL, NULL, false);
TABLE(params_milter, "bulwark-milter", "/etc/bulwark/milter.conf",
      "Read by `bulwark-milter -c FILE` at start.", milter_defs, NULL, NULL, false);
TABLE(params_ctl, "bulwarkctl", "/etc/bulwark/bulwarkctl.conf",
      "Read by `bulwarkctl` (`-c FILE` or `$BULWARK_CTL_CONF`); command-line options override it.",
      ctl_defs, NULL, NULL, false);
TABLE(
    params_cluster, "cluster configuration",
    "MariaDB `config_version`, via `bulwarkctl config set`",
    "Versioned: every change is a new version, published to every node, which applies it "
    "between two jobs. `bulwarkctl scan --local` reads the same keys with `--set` and `--config`.",
    cluster_defs, "score.",
    "`score.SYMBOL` (number) overrides the weight of any symbol, e.g. `score.MISSING_DATE = "
    "2.5`.\n\n"
    "Per-domain and per-user policy (numbers): `policy.domain.DOMAIN.KEY` and "
    "`policy.user.ADDRESS.KEY`, where KEY is `tag_score`, `quarantine_score`, `reject_score` "
    "(replace the global threshold for mail to that domain or user) or `adjust` (added to "
    "the score of mail to them), e.g. `policy.domain.example.org.reject_score = 12`, "
    "`policy.user.ceo@example.org.adjust = 2`. Names are lower case. A user's setting "
    "wins over its domain's, the domain's over the global one. A message to several "
    "recipients gets the strictest of their policies (lowest thresholds, highest "
    "adjustment): one SMTP transaction gets one verdict.\n\n"
    "DKIM signing keys (text): `dkim.sign.DOMAIN.SELECTOR = enc:...`, a private key sealed "
    "with the cluster key by `bulwarkctl dkim seal` (never the PEM itself); nodes with that "
    "key in their dkim_key_file sign mail from DOMAIN with every key configured for it "
    "(docs/dkim.md). Selectors are one DNS label here.\n\n"
    "DNS block lists (text): `rbl.list.NAME.ATTRIBUTE`, NAME of a-z, 0-9, `_` and `-`: "
    "`zone` (the list's DNS zone, required), `type` (`ip`, `domain` or `uri`; default ip), "
    "`on` (what is looked up: client, received for ip lists; helo, rdns, envfrom, from, "
    "replyto, url for the others), `codes` (`127.0.0.2:SYMBOL:WEIGHT, 127.0.0.10-127.0.0.11:"
    "SYMBOL, 127.0.1.0/24:SYMBOL, &4:SYMBOL, 127.0.0.1:ERROR`) and `symbol` (`SYMBOL[:WEIGHT]` "
    "for any other listing; default RBL_NAME:1), e.g. `rbl.list.zen.zone = "
    "zen.dnsbl.example`. Set a list's keys in one `config set`; a list without a zone refuses "
    "the version on the nodes (docs/rbl.md).",
    true);

/* ---- values ------------------------------------------------------------------- */

typedef struct {
    char *raw;
    bool set;
    int64_t i;
    double d;
} pval;

typedef struct {
    char *key, *raw;
    double d;
} dynval;

struct params {
    const param_table *t;
    pval *v;
    dynval *dyn;
    size_t ndyn;
};

static const param_def *find_def(const param_table *t, const char *key, size_t *idx)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->defs[i].name, key) == 0) {
            if (idx)
                *idx = i;
            return &t->defs[i];
        }
    }
    return NULL;
}

const char *params_scoped_key(const char *key, char *scope, size_t scopelen)
{
    static const char *const what[] = {"tag_score", "quarantine_score", "reject_score", "adjust"};
    const char *name;
    bool user;
    if (strncmp(key, "policy.domain.", 14) == 0) {
        name = key + 14;
        user = false;
    } else if (strncmp(key, "policy.user.", 12) == 0) {
        name = key + 12;
        user = true;
    } else {
        return NULL;
    }
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || dot - name > 254)
        return NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof what / sizeof what[0]; i++)
        known |= strcmp(dot + 1, what[i]) == 0;
    if (!known)
        return NULL;
    size_t ats = 0;
    for (const char *c = name; c < dot; c++) {
        if (*c == '@')
            ats++;
        else if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' ||
                   *c == '.' || *c == '_' || *c == '+'))
            return NULL;
    }
    if (ats != (user ? 1u : 0u) || name[0] == '.' || dot[-1] == '.' || name[0] == '@' ||
        dot[-1] == '@')
        return NULL;
    if (scope && scopelen)
        snprintf(scope, scopelen, "%s:%.*s", user ? "user" : "domain", (int)(dot - name), name);
    return dot + 1;
}

const char *params_dkim_key(const char *key, char *domain, size_t domainlen)
{
    if (strncmp(key, "dkim.sign.", 10) != 0)
        return NULL;
    const char *name = key + 10, *dot = strrchr(name, '.');
    if (!dot || dot == name || dot[-1] == '.' || name[0] == '.' || !dot[1] || strlen(name) > 300)
        return NULL;
    for (const char *c = name; *c; c++)
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_' ||
              (*c == '.' && c[1] != '.')))
            return NULL;
    if (domain && domainlen)
        snprintf(domain, domainlen, "%.*s", (int)(dot - name), name);
    return dot + 1;
}

/* A sealed key as `bulwarkctl dkim seal` writes it: "enc:" and base64, nothing else (a
 * PEM pasted by mistake is refused before it reaches the database). */
static bool dkim_sealed(const char *v)
{
    size_t n = strlen(v);
    return n > 4 && n <= 16384 && strncmp(v, "enc:", 4) == 0 &&
           strspn(v + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
               n - 4;
}

static bool is_dynamic(const param_table *t, const char *key)
{
    if (t->scoped_policy && rblconf_key(key, NULL, 0))
        return true;
    if (t->scoped_policy && params_dkim_key(key, NULL, 0))
        return true;
    if (t->scoped_policy && params_scoped_key(key, NULL, 0))
        return true;
    if (!t->dynamic_prefix || strncmp(key, t->dynamic_prefix, strlen(t->dynamic_prefix)) != 0)
        return false;
    const char *s = key + strlen(t->dynamic_prefix);
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!(isupper((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno || !isfinite(d))
        return false;
    *out = d;
    while (isspace((unsigned char)*end)) /* `value` is the caller's: look, do not trim */
        end++;
    return *end == '\0';
}

static bool parse_suffixed(const char *s, const char *const *sfx, const double *mul, size_t n,
                           double bare, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno || !isfinite(d) || d < 0)
        return false;
    while (*end == ' ')
        end++;
    if (!*end) {
        *out = d * bare;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(end, sfx[i]) == 0) {
            *out = d * mul[i];
            return true;
        }
    }
    return false;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return (*out = true);
        if (strcasecmp(s, no[i]) == 0)
            return !(*out = false);
    }
    return false;
}

static bool enum_has(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, s, n) == 0)
            return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

static const char *type_words(param_type t)
{
    switch (t) {
    case P_STR: return "text";
    case P_INT: return "an integer";
    case P_DOUBLE: return "a number";
    case P_BOOL: return "yes or no";
    case P_SIZE: return "a size (bytes, or with k/m/g)";
    case P_DURATION: return "a duration (seconds, or with ms/s/m/h/d)";
    case P_ENUM: return "one of";
    }
    return "?";
}

/* Parses `value` for `d`; on success fills *v (raw not touched). */
static bool parse_value(const param_def *d, const char *value, pval *v, char *err, size_t errlen)
{
    static const char *size_sfx[] = {"k", "m", "g", "kb", "mb", "gb"};
    static const double size_mul[] = {1024.0, 1048576.0, 1073741824.0,
                                      1024.0, 1048576.0, 1073741824.0};
    static const char *dur_sfx[] = {"ms", "s", "m", "h", "d"};
    static const double dur_mul[] = {1, 1000, 60000, 3600000, 86400000};
    double x = 0;
    bool ok = true, ranged = false;

    if (strchr(value, '\n') || strchr(value, '\r')) {
        snprintf(err, errlen, "value for '%s' must be on one line", d->name);
        return false;
    }
    switch (d->type) {
    case P_STR: return true;
    case P_BOOL: {
        bool b = false;
        ok = parse_bool(value, &b);
        v->i = b;
        break;
    }
    case P_ENUM:
        if (!enum_has(d->choices, value)) {
            snprintf(err, errlen, "bad value for '%s': '%s' is not one of %s", d->name, value,
                     d->choices);
            return false;
        }
        return true;
    case P_INT:
        ok = parse_number(value, &x) && x == floor(x);
        ranged = true;
        break;
    case P_DOUBLE:
        ok = parse_number(value, &x);
        ranged = true;
        break;
    case P_SIZE:
        ok = parse_suffixed(value, size_sfx, size_mul, 6, 1, &x);
        x = floor(x);
        ranged = true;
        break;
    case P_DURATION:
        ok = parse_suffixed(value, dur_sfx, dur_mul, 5, 1000, &x);
        x = floor(x);
        ranged = true;
        break;
    }
    if (!ok) {
        snprintf(err, errlen, "bad value for '%s': '%s' is not %s", d->name, value,
                 type_words(d->type));
        return false;
    }
    if (ranged) {
        if (x < d->min || x > d->max) {
            snprintf(err, errlen, "bad value for '%s': '%s' is out of range [%.15g, %.15g]%s",
                     d->name, value, d->min, d->max,
                     d->type == P_DURATION ? " ms"
                     : d->type == P_SIZE   ? " bytes"
                                           : "");
            return false;
        }
        v->d = x;
        v->i = (int64_t)x;
    }
    return true;
}

params *params_new(const param_table *t)
{
    params *p = xcalloc(1, sizeof *p);
    p->t = t;
    p->v = xcalloc(t->n, sizeof *p->v);
    for (size_t i = 0; i < t->n; i++) {
        char err[256];
        if (!parse_value(&t->defs[i], t->defs[i].def, &p->v[i], err, sizeof err))
            log_panic("default of %s: %s", t->defs[i].name, err);
        p->v[i].raw = xstrdup(t->defs[i].def);
    }
    return p;
}

params *params_dup(const params *src)
{
    params *p = xcalloc(1, sizeof *p);
    p->t = src->t;
    p->v = xcalloc(p->t->n, sizeof *p->v);
    for (size_t i = 0; i < p->t->n; i++) {
        p->v[i] = src->v[i];
        p->v[i].raw = xstrdup(src->v[i].raw);
    }
    p->ndyn = src->ndyn;
    p->dyn = xcalloc(p->ndyn, sizeof *p->dyn);
    for (size_t i = 0; i < p->ndyn; i++) {
        p->dyn[i].key = xstrdup(src->dyn[i].key);
        p->dyn[i].raw = xstrdup(src->dyn[i].raw);
        p->dyn[i].d = src->dyn[i].d;
    }
    return p;
}

void params_destroy(params **pp)
{
    params *p = *pp;
    if (!p)
        return;
    for (size_t i = 0; i < p->t->n; i++)
        free(p->v[i].raw);
    for (size_t i = 0; i < p->ndyn; i++) {
        free(p->dyn[i].key);
        free(p->dyn[i].raw);
    }
    free(p->dyn);
    free(p->v);
    free(p);
    *pp = NULL;
}

const param_table *params_table(const params *p)
{
    return p->t;
}

bool params_check(const param_table *t, const char *key, const char *value, char *err,
                  size_t errlen)
{
    const param_def *d = find_def(t, key, NULL);
    pval v = {0};
    if (d)
        return parse_value(d, value, &v, err, errlen);
    if (t->scoped_policy && strncmp(key, "rbl.list.", 9) == 0)
        return rblconf_check(key, value, err, errlen); /* its own words for each part */
    if (t->scoped_policy && params_dkim_key(key, NULL, 0)) {
        if (dkim_sealed(value))
            return true;
        snprintf(err, errlen,
                 "%s wants a sealed key (enc:BASE64 from `bulwarkctl dkim seal`), never a PEM",
                 key);
        return false;
    }
    if (is_dynamic(t, key)) {
        param_def dd = {key, P_DOUBLE, "0", -100000, 100000, NULL, NULL};
        return parse_value(&dd, value, &v, err, errlen);
    }
    snprintf(err, errlen, "unknown parameter '%s'", key);
    return false;
}

bool params_set(params *p, const char *key, const char *value, char *err, size_t errlen)
{
    size_t i;
    const param_def *d = find_def(p->t, key, &i);
    if (!params_check(p->t, key, value, err, errlen))
        return false;
    pval v = {0};
    if (d) {
        parse_value(d, value, &v, err, errlen);
        free(p->v[i].raw);
        v.raw = xstrdup(value);
        v.set = true;
        p->v[i] = v;
        return true;
    }
    param_def dd = {key, P_DOUBLE, "0", -100000, 100000, NULL, NULL};
    parse_value(&dd, value, &v, err, errlen);
    for (i = 0; i < p->ndyn; i++) {
        if (strcmp(p->dyn[i].key, key) == 0) {
            free(p->dyn[i].raw);
            p->dyn[i].raw = xstrdup(value);
            p->dyn[i].d = v.d;
            return true;
        }
    }
    p->dyn = xrealloc(p->dyn, (p->ndyn + 1) * sizeof *p->dyn);
    p->dyn[p->ndyn++] = (dynval){xstrdup(key), xstrdup(value), v.d};
    return true;
}

bool params_unset(params *p, const char *key)
{
    size_t i;
    const param_def *d = find_def(p->t, key, &i);
    if (d) {
        char err[256];
        free(p->v[i].raw);
        memset(&p->v[i], 0, sizeof p->v[i]);
        parse_value(d, d->def, &p->v[i], err, sizeof err);
        p->v[i].raw = xstrdup(d->def);
        return true;
    }
    for (i = 0; i < p->ndyn; i++) {
        if (strcmp(p->dyn[i].key, key) == 0) {
            free(p->dyn[i].key);
            free(p->dyn[i].raw);
            p->dyn[i] = p->dyn[--p->ndyn];
            return true;
        }
    }
    return is_dynamic(p->t, key);
}

bool params_load_text(params *p, const char *origin, const char *text, size_t len, char *err,
                      size_t errlen)
{
    const char *s = text, *end = text + len;
    for (int lineno = 1; s < end; lineno++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        char *line = xstrndup(s, n);
        s = nl ? nl + 1 : end;
        if (strlen(line) != n) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", origin, lineno);
            free(line);
            return false;
        }
        char *l = str_trim(line);
        if (*l == '\0' || *l == '#') {
            free(line);
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value', got '%.60s'", origin, lineno, l);
            free(line);
            return false;
        }
        *eq = '\0';
        char *key = str_trim(l), *val = str_trim(eq + 1);
        char why[512];
        if (!*key) {
            snprintf(err, errlen, "%s:%d: missing parameter name before '='", origin, lineno);
            free(line);
            return false;
        }
        if (!params_set(p, key, val, why, sizeof why)) {
            snprintf(err, errlen, "%s:%d: %s", origin, lineno, why);
            free(line);
            return false;
        }
        free(line);
    }
    return true;
}

bool params_load_file(params *p, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = file_read(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return false;
    }
    bool ok = params_load_text(p, path, text, len, err, errlen);
    free(text);
    return ok;
}

static const pval *xval(const params *p, const char *name, const param_def **d)
{
    size_t i;
    *d = find_def(p->t, name, &i);
    if (!*d)
        log_panic("parameter '%s' is not in table %s", name, p->t->title);
    return &p->v[i];
}

const char *params_str(const params *p, const char *name)
{
    const param_def *d;
    return xval(p, name, &d)->raw;
}

int64_t params_int(const params *p, const char *name)
{
    const param_def *d;
    return xval(p, name, &d)->i;
}

double params_double(const params *p, const char *name)
{
    const param_def *d;
    const pval *v = xval(p, name, &d);
    return d->type == P_DOUBLE ? v->d : (double)v->i;
}

bool params_bool(const params *p, const char *name)
{
    const param_def *d;
    const pval *v = xval(p, name, &d);
    if (d->type != P_BOOL)
        log_panic("parameter '%s' is not a boolean", name);
    return v->i != 0;
}

bool params_dynamic(const params *p, const char *name, double *out)
{
    for (size_t i = 0; i < p->ndyn; i++) {
        if (strcmp(p->dyn[i].key, name) == 0) {
            *out = p->dyn[i].d;
            return true;
        }
    }
    return false;
}

bool params_next_set(const params *p, size_t *it, const char **key, const char **value)
{
    while (*it < p->t->n) {
        size_t i = (*it)++;
        if (p->v[i].set) {
            *key = p->t->defs[i].name;
            *value = p->v[i].raw;
            return true;
        }
    }
    size_t j = *it - p->t->n;
    if (j < p->ndyn) {
        (*it)++;
        *key = p->dyn[j].key;
        *value = p->dyn[j].raw;
        return true;
    }
    return false;
}

static const char *type_name(const param_def *d)
{
    switch (d->type) {
    case P_STR: return "text";
    case P_INT: return "integer";
    case P_DOUBLE: return "number";
    case P_BOOL: return "boolean";
    case P_SIZE: return "size";
    case P_DURATION: return "duration";
    case P_ENUM: return d->choices;
    }
    return "?";
}

void params_doc(const param_table *t, char **out)
{
    buf_t b = {0};
    buf_printf(&b, "## %s\n\nSource: %s. %s\n\n", t->title, t->file, t->intro);
    buf_puts(&b, "| parameter | type | default | range | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < t->n; i++) {
        const param_def *d = &t->defs[i];
        char range[96] = "";
        if (d->type == P_INT || d->type == P_DOUBLE || d->type == P_SIZE || d->type == P_DURATION)
            snprintf(range, sizeof range, "%.15g .. %.15g%s", d->min, d->max,
                     d->type == P_DURATION ? " ms"
                     : d->type == P_SIZE   ? " bytes"
                                           : "");
        /* '|' would end a Markdown table cell: enum choices are written with '/'. */
        char type[160];
        snprintf(type, sizeof type, "%s", type_name(d));
        for (char *c = type; (c = strchr(c, '|'));)
            *c = '/';
        if (*d->def)
            buf_printf(&b, "| `%s` | %s | `%s` | %s | %s |\n", d->name, type, d->def, range,
                       d->doc);
        else
            buf_printf(&b, "| `%s` | %s | (empty) | %s | %s |\n", d->name, type, range, d->doc);
    }
    if (t->dynamic_doc)
        buf_printf(&b, "\n%s\n", t->dynamic_doc);
    buf_puts(&b, "\n");
    *out = b.data;
}
