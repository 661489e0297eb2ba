/* store.c - MariaDB access for the master: migrations, config versions, the
 * message log and the quarantine.
 *
 * One connection per store, used by one thread. Migrations are the
 * files sql/NNN_name.sql embedded at build time; schema_migration records which
 * ran, and a named lock keeps two masters starting together from racing. A lost
 * connection is noticed on the next failing call: the handle is dropped and the
 * next store_connect() makes a new one. Statements use prepared parameters
 * wherever a value comes from outside; the two inserts of the recorder's hot path
 * stay prepared for the life of the connection. Result rows of the searches are
 * fetched as text columns of any length (fetch_text). Sessions run in UTC. */
#include "store.h"
#include "log.h"
#include "migrations.h"
#include "util.h"

#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
    MYSQL *db;
    MYSQL_STMT *log_ins, *quar_ins; /* prepared once per connection */
    char *host, *socket, *user, *password, *name;
    unsigned port;
};

void store_version_free(store_version *v)
{
    free(v->author);
    free(v->comment);
    free(v->changes);
    free(v->content);
    memset(v, 0, sizeof *v);
}

store *store_new(const params *cfg)
{
    store *s = xcalloc(1, sizeof *s);
    s->host = xstrdup(params_str(cfg, "db_host"));
    s->socket = xstrdup(params_str(cfg, "db_socket"));
    s->user = xstrdup(params_str(cfg, "db_user"));
    s->name = xstrdup(params_str(cfg, "db_name"));
    s->port = (unsigned)params_int(cfg, "db_port");
    const char *pwf = params_str(cfg, "db_password_file");
    if (*pwf) {
        size_t len;
        char *pw = file_read(pwf, &len);
        if (!pw)
            log_fatal("event=config error=\"cannot read db_password_file %s: %s\"", pwf,
                      strerror(errno));
        char *nl = strchr(pw, '\n');
        if (nl)
            *nl = '\0';
        s->password = pw;
    }
    return s;
}

static void disconnect(store *s)
{
    if (s->log_ins)
        mysql_stmt_close(s->log_ins);
    if (s->quar_ins)
        mysql_stmt_close(s->quar_ins);
    s->log_ins = s->quar_ins = NULL;
    if (s->db)
        mysql_close(s->db);
    s->db = NULL;
}

void store_destroy(store **sp)
{
    store *s = *sp;
    if (!s)
        return;
    disconnect(s);
    free(s->host);
    free(s->socket);
    free(s->user);
    free(s->password);
    free(s->name);
    free(s);
    *sp = NULL;
}

bool store_ok(const store *s)
{
    return s->db != NULL;
}

/* Records the error and drops the connection if the server went away. */
static bool fail(store *s, const char *what, char *err, size_t errlen)
{
    unsigned code = s->db ? mysql_errno(s->db) : 0;
    snprintf(err, errlen, "%s: %s", what, s->db ? mysql_error(s->db) : "not connected");
    if (!s->db || code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST ||
        code == CR_CONNECTION_ERROR || code == CR_CONN_HOST_ERROR || code >= 2000)
        disconnect(s);
    return false;
}

static bool exec(store *s, const char *sql, char *err, size_t errlen)
{
    if (mysql_query(s->db, sql) != 0)
        return fail(s, "query", err, errlen);
    MYSQL_RES *r = mysql_store_result(s->db);
    if (r)
        mysql_free_result(r);
    return true;
}

/* Runs a migration file: statements end with ';' at the end of a line. */
static bool run_script(store *s, const char *sql, char *err, size_t errlen)
{
    buf_t stmt = {0};
    const char *p = sql;
    bool ok = true;
    while (ok && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, n);
        char *t = str_trim(line);
        p = nl ? nl + 1 : p + n;
        if (strncmp(t, "--", 2) == 0 || !*t) {
            free(line);
            continue;
        }
        buf_puts(&stmt, t);
        buf_puts(&stmt, "\n");
        if (t[strlen(t) - 1] == ';') {
            ok = exec(s, stmt.data, err, errlen);
            stmt.len = 0;
        }
        free(line);
    }
    buf_free(&stmt);
    return ok;
}

static bool migrate(store *s, char *err, size_t errlen)
{
    if (!exec(s,
              "CREATE TABLE IF NOT EXISTS schema_migration ("
              " version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
              " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB",
              err, errlen))
        return false;
    if (!exec(s, "SELECT GET_LOCK('bulwark_migrate', 60)", err, errlen))
        return false;
    bool ok = true;
    for (const struct migration *m = sql_migrations; ok && m->version; m++) {
        char q[256];
        snprintf(q, sizeof q, "SELECT 1 FROM schema_migration WHERE version = %d", m->version);
        if (mysql_query(s->db, q) != 0) {
            ok = fail(s, "migration check", err, errlen);
            break;
        }
        MYSQL_RES *r = mysql_store_result(s->db);
        bool done = r && mysql_num_rows(r) > 0;
        if (r)
            mysql_free_result(r);
        if (done)
            continue;
        log_info("event=migrate version=%d name=%s", m->version, m->name);
        ok = run_script(s, m->sql, err, errlen);
        if (ok) {
            snprintf(q, sizeof q, "INSERT INTO schema_migration (version, name) VALUES (%d, '%s')",
                     m->version, m->name);
            ok = exec(s, q, err, errlen);
        }
    }
    if (s->db)
        exec(s, "SELECT RELEASE_LOCK('bulwark_migrate')", err, errlen);
    return ok;
}

bool store_connect(store *s, char *err, size_t errlen)
{
    if (s->db)
        return true;
    s->db = mysql_init(NULL);
    if (!s->db)
        log_panic("mysql_init failed");
    unsigned timeout = 5;
    mysql_optionsv(s->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(s->db, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_optionsv(s->db, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_optionsv(s->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char *host = *s->host ? s->host : NULL;
    if (!mysql_real_connect(s->db, host, s->user, s->password, s->name, s->port,
                            host ? NULL : s->socket, 0)) {
        snprintf(err, errlen, "connect %s: %s", host ? host : s->socket, mysql_error(s->db));
        disconnect(s);
        return false;
    }
    /* Galera: read what this node's cluster has committed before answering. */
    mysql_query(s->db, "SET SESSION wsrep_sync_wait = 1");
    if (mysql_query(s->db, "SET time_zone = '+00:00'") != 0) {
        snprintf(err, errlen, "set time zone: %s", mysql_error(s->db));
        disconnect(s);
        return false;
    }
    if (!migrate(s, err, errlen)) {
        disconnect(s);
        return false;
    }
    return true;
}

bool store_latest_version(store *s, uint64_t *out, char *err, size_t errlen)
{
    if (!s->db)
        return fail(s, "latest version", err, errlen);
    if (mysql_query(s->db, "SELECT COALESCE(MAX(version), 0) FROM config_version") != 0)
        return fail(s, "latest version", err, errlen);
    MYSQL_RES *r = mysql_store_result(s->db);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    *out = row && row[0] ? strtoull(row[0], NULL, 10) : 0;
    if (r)
        mysql_free_result(r);
    return r != NULL || fail(s, "latest version", err, errlen);
}

static void fill_version(MYSQL_ROW row, store_version *v)
{
    v->version = strtoull(row[0], NULL, 10);
    v->created_ms = strtoull(row[1] ? row[1] : "0", NULL, 10);
    v->author = xstrdup(row[2] ? row[2] : "");
    v->comment = xstrdup(row[3] ? row[3] : "");
    v->changes = xstrdup(row[4] ? row[4] : "");
    v->content = row[5] ? xstrdup(row[5]) : NULL;
}

#define VERSION_COLS                                                                               \
    "version, CAST(UNIX_TIMESTAMP(created_at) * 1000 AS UNSIGNED), author, comment, changes"

bool store_get_version(store *s, uint64_t version, store_version *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s->db)
        return fail(s, "get version", err, errlen);
    char q[256];
    if (version)
        snprintf(q, sizeof q,
                 "SELECT " VERSION_COLS ", content FROM config_version WHERE version = %llu",
                 (unsigned long long)version);
    else
        snprintf(q, sizeof q,
                 "SELECT " VERSION_COLS
                 ", content FROM config_version ORDER BY version DESC LIMIT 1");
    if (mysql_query(s->db, q) != 0)
        return fail(s, "get version", err, errlen);
    MYSQL_RES *r = mysql_store_result(s->db);
    if (!r)
        return fail(s, "get version", err, errlen);
    MYSQL_ROW row = mysql_fetch_row(r);
    if (row)
        fill_version(row, out);
    mysql_free_result(r);
    if (!row)
        snprintf(err, errlen, "version %llu not found", (unsigned long long)version);
    return row != NULL;
}

bool store_change_begin(store *s, store_version *cur, char *err, size_t errlen)
{
    memset(cur, 0, sizeof *cur);
    if (!s->db)
        return fail(s, "change config", err, errlen);
    if (!store_begin(s, err, errlen))
        return false;
    /* FOR UPDATE on the newest row (or the gap above it): two masters changing the
     * configuration at once are serialised here, and the second sees the first. */
    if (mysql_query(s->db, "SELECT " VERSION_COLS ", content FROM config_version"
                           " ORDER BY version DESC LIMIT 1 FOR UPDATE") != 0) {
        fail(s, "change config", err, errlen);
        store_rollback(s);
        return false;
    }
    MYSQL_RES *r = mysql_store_result(s->db);
    if (!r) {
        fail(s, "change config", err, errlen);
        store_rollback(s);
        return false;
    }
    MYSQL_ROW row = mysql_fetch_row(r);
    if (row)
        fill_version(row, cur);
    mysql_free_result(r);
    if (!cur->content)
        cur->content = xstrdup("");
    return true;
}

bool store_add_version(store *s, uint64_t base, const char *author, const char *comment,
                       const char *changes, const char *content, uint64_t *out, char *err,
                       size_t errlen)
{
    store_version cur;
    if (!store_change_begin(s, &cur, err, errlen))
        return false;
    uint64_t have = cur.version;
    store_version_free(&cur);
    if (base && base != have) {
        snprintf(err, errlen, "configuration changed meanwhile: version is %llu, not %llu",
                 (unsigned long long)have, (unsigned long long)base);
        store_rollback(s);
        return false;
    }
    if (!store_change_insert(s, have + 1, author, comment, changes, content, err, errlen)) {
        store_rollback(s);
        return false;
    }
    if (!store_commit(s, err, errlen))
        return false;
    *out = have + 1;
    return true;
}

bool store_history(store *s, unsigned limit, store_version **out, size_t *n, char *err,
                   size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return fail(s, "history", err, errlen);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT " VERSION_COLS ", NULL FROM config_version ORDER BY version DESC LIMIT %u",
             limit ? limit : 20);
    if (mysql_query(s->db, q) != 0)
        return fail(s, "history", err, errlen);
    MYSQL_RES *r = mysql_store_result(s->db);
    if (!r)
        return fail(s, "history", err, errlen);
    size_t rows = mysql_num_rows(r);
    *out = xcalloc(rows ? rows : 1, sizeof **out);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)))
        fill_version(row, &(*out)[(*n)++]);
    mysql_free_result(r);
    return true;
}

void store_library_init(void)
{
    if (mysql_library_init(0, NULL, NULL) != 0)
        log_fatal("event=mysql_library_init error=\"failed\"");
}

void store_library_end(void)
{
    mysql_library_end();
}

/* ---- prepared statements ------------------------------------------------------------ */

#define MAXB 24

typedef struct {
    MYSQL_BIND b[MAXB];
    unsigned long len[MAXB];
    unsigned long long u[MAXB];
    double d[MAXB];
    unsigned n;
} binds;

static MYSQL_BIND *bind_next(binds *x)
{
    if (x->n >= MAXB)
        log_panic("event=store_bind reason=\"too many parameters\"");
    MYSQL_BIND *b = &x->b[x->n];
    memset(b, 0, sizeof *b);
    return b;
}

static void bind_blob(binds *x, const void *p, size_t n, enum enum_field_types type)
{
    MYSQL_BIND *b = bind_next(x);
    x->len[x->n] = (unsigned long)n;
    b->buffer_type = type;
    b->buffer = (void *)(p ? p : "");
    b->buffer_length = (unsigned long)n;
    b->length = &x->len[x->n];
    x->n++;
}

static void bind_str(binds *x, const char *s)
{
    s = s ? s : "";
    bind_blob(x, s, strlen(s), MYSQL_TYPE_STRING);
}

static void bind_u64(binds *x, uint64_t v)
{
    MYSQL_BIND *b = bind_next(x);
    x->u[x->n] = v;
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = &x->u[x->n];
    b->is_unsigned = 1;
    x->n++;
}

static void bind_dbl(binds *x, double v)
{
    MYSQL_BIND *b = bind_next(x);
    x->d[x->n] = v;
    b->buffer_type = MYSQL_TYPE_DOUBLE;
    b->buffer = &x->d[x->n];
    x->n++;
}

/* Records a statement's error; drops the connection on a client-side error (the
 * server went away, a timeout), keeps it for a server-side refusal. */
static bool stmt_fail(store *s, MYSQL_STMT *st, const char *what, char *err, size_t errlen)
{
    unsigned code = st ? mysql_stmt_errno(st) : mysql_errno(s->db);
    snprintf(err, errlen, "%s: %s", what, st ? mysql_stmt_error(st) : mysql_error(s->db));
    if (code >= 2000)
        disconnect(s);
    return false;
}

/* Prepares sql into *cache (if not yet) or a new statement, binds and executes.
 * Returns the statement (the caller closes it unless cached) or NULL with err. */
static MYSQL_STMT *run(store *s, MYSQL_STMT **cache, const char *sql, binds *x, const char *what,
                       char *err, size_t errlen)
{
    if (!s->db) {
        fail(s, what, err, errlen);
        return NULL;
    }
    MYSQL_STMT *st = cache ? *cache : NULL;
    if (!st) {
        st = mysql_stmt_init(s->db);
        if (!st) {
            fail(s, what, err, errlen);
            return NULL;
        }
        if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
            stmt_fail(s, st, what, err, errlen);
            mysql_stmt_close(st);
            return NULL;
        }
        if (cache)
            *cache = st;
    }
    if ((x && x->n && mysql_stmt_bind_param(st, x->b) != 0) || mysql_stmt_execute(st) != 0) {
        stmt_fail(s, st, what, err, errlen); /* may have closed a cached statement */
        if (!cache)
            mysql_stmt_close(st);
        return NULL;
    }
    return st;
}

/* Runs a statement that returns no rows; *affected gets the row count. */
static bool run_update(store *s, MYSQL_STMT **cache, const char *sql, binds *x, const char *what,
                       uint64_t *affected, char *err, size_t errlen)
{
    MYSQL_STMT *st = run(s, cache, sql, x, what, err, errlen);
    if (!st)
        return false;
    if (affected)
        *affected = mysql_stmt_affected_rows(st);
    if (!cache)
        mysql_stmt_close(st);
    return true;
}

/* Fetches the next row as text: v[i] allocated and NUL-terminated (NULL for SQL
 * NULL), len[i] its length. 1: a row; 0: no more rows; -1: error. */
static int fetch_text(MYSQL_STMT *st, unsigned ncols, char **v, unsigned long *len)
{
    MYSQL_BIND b[32];
    my_bool isnull[32];
    if (ncols > 32)
        log_panic("event=store_fetch reason=\"too many columns\"");
    memset(b, 0, sizeof b);
    for (unsigned i = 0; i < ncols; i++) {
        b[i].buffer_type = MYSQL_TYPE_STRING;
        b[i].length = &len[i];
        b[i].is_null = &isnull[i];
    }
    if (mysql_stmt_bind_result(st, b) != 0)
        return -1;
    int rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA)
        return 0;
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
        return -1;
    for (unsigned i = 0; i < ncols; i++) {
        v[i] = NULL;
        if (isnull[i])
            continue;
        v[i] = xmalloc(len[i] + 1);
        MYSQL_BIND one;
        memset(&one, 0, sizeof one);
        one.buffer_type = MYSQL_TYPE_STRING;
        one.buffer = v[i];
        one.buffer_length = len[i] + 1;
        if (len[i] && mysql_stmt_fetch_column(st, &one, i, 0) != 0) {
            for (unsigned k = 0; k <= i; k++)
                free(v[k]);
            return -1;
        }
        v[i][len[i]] = '\0';
    }
    return 1;
}

/* ---- message log and quarantine ------------------------------------------------------ */

void store_record_free(store_record *r)
{
    char **f[] = {&r->id,      &r->client_ip,  &r->helo,    &r->sender,      &r->rcpt,
                  &r->subject, &r->message_id, &r->node_id, &r->queue_id,    &r->reason,
                  &r->action,  &r->symbols,    &r->status,  &r->released_by, &r->release_reply,
                  &r->learn,   &r->learn_reply};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(r, 0, sizeof *r);
}

bool store_begin(store *s, char *err, size_t errlen)
{
    if (!s->db)
        return fail(s, "begin", err, errlen);
    return exec(s, "START TRANSACTION", err, errlen);
}

bool store_commit(store *s, char *err, size_t errlen)
{
    if (!s->db || mysql_query(s->db, "COMMIT") != 0)
        return fail(s, "commit", err, errlen);
    return true;
}

void store_rollback(store *s)
{
    if (s->db)
        mysql_query(s->db, "ROLLBACK");
}

bool store_change_insert(store *s, uint64_t version, const char *author, const char *comment,
                         const char *changes, const char *content, char *err, size_t errlen)
{
    binds x = {0};
    bind_u64(&x, version);
    bind_str(&x, author);
    bind_str(&x, comment);
    bind_str(&x, changes);
    bind_str(&x, content);
    return run_update(s, NULL,
                      "INSERT INTO config_version (version, author, comment, changes, content)"
                      " VALUES (?, ?, ?, ?, ?)",
                      &x, "insert version", NULL, err, errlen);
}

/* The columns both tables share, in the order bind_common binds them. */
#define COMMON_COLS                                                                                \
    "job_id, time, client_ip, helo, sender, rcpt, subject, message_id, size, score, symbols,"      \
    " node_id, reason"
#define COMMON_VALS "?, FROM_UNIXTIME(? / 1000), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"

static void bind_common(binds *x, const store_record *r)
{
    bind_str(x, r->id);
    bind_u64(x, r->time_ms);
    bind_str(x, r->client_ip);
    bind_str(x, r->helo);
    bind_str(x, r->sender);
    bind_str(x, r->rcpt);
    bind_str(x, r->subject);
    bind_str(x, r->message_id);
    bind_u64(x, r->size);
    bind_dbl(x, r->score);
    bind_str(x, r->symbols ? r->symbols : "[]");
    bind_str(x, r->node_id);
    bind_str(x, r->reason);
}

bool store_log_insert(store *s, const store_record *r, bool *inserted, char *err, size_t errlen)
{
    binds x = {0};
    bind_common(&x, r);
    bind_str(&x, r->action);
    bind_u64(&x, r->config_version);
    bind_u64(&x, r->scan_us);
    bind_str(&x, r->queue_id);
    uint64_t n = 0;
    bool ok = run_update(s, &s->log_ins,
                         "INSERT IGNORE INTO message_log (" COMMON_COLS
                         ", action, config_version, scan_us, queue_id) VALUES (" COMMON_VALS
                         ", ?, ?, ?, ?)",
                         &x, "insert log row", &n, err, errlen);
    *inserted = n > 0;
    return ok;
}

bool store_quarantine_insert(store *s, const store_record *r, const void *z, size_t zlen, char *err,
                             size_t errlen)
{
    binds x = {0};
    bind_common(&x, r);
    bind_blob(&x, z, zlen, MYSQL_TYPE_LONG_BLOB);
    return run_update(s, &s->quar_ins,
                      "INSERT IGNORE INTO quarantine (" COMMON_COLS
                      ", message) VALUES (" COMMON_VALS ", ?)",
                      &x, "insert quarantine row", NULL, err, errlen);
}

static char *take(char **v, unsigned i)
{
    char *p = v[i] ? v[i] : xstrdup("");
    v[i] = NULL;
    return p;
}

static uint64_t take_u64(char **v, unsigned i)
{
    uint64_t n = v[i] ? strtoull(v[i], NULL, 10) : 0;
    free(v[i]);
    v[i] = NULL;
    return n;
}

#define TIME_MS(col) "CAST(UNIX_TIMESTAMP(" col ") * 1000 AS UNSIGNED)"
#define READ_COLS                                                                                  \
    "job_id, " TIME_MS("time") ", client_ip, helo, sender, rcpt, subject, message_id, size,"       \
                               " CAST(score AS CHAR), symbols, node_id, reason"
#define N_READ_COLS 13
#define LOG_COLS READ_COLS ", action, config_version, scan_us, queue_id"
#define QUAR_COLS                                                                                  \
    READ_COLS ", status, " TIME_MS("released_at") ", released_by, release_reply, learn,"           \
                                                  " learn_reply, message"

/* Fills r from the READ_COLS at v[0..13) and the table's own columns after them.
 * (The score is read as text made by the server: the client library's own DOUBLE
 * to string conversion of a binary-protocol row gave "0".) */
static void fill_record(char **v, bool quarantine, store_record *r)
{
    r->id = take(v, 0);
    r->time_ms = take_u64(v, 1);
    r->client_ip = take(v, 2);
    r->helo = take(v, 3);
    r->sender = take(v, 4);
    r->rcpt = take(v, 5);
    r->subject = take(v, 6);
    r->message_id = take(v, 7);
    r->size = take_u64(v, 8);
    r->score = v[9] ? strtod(v[9], NULL) : 0;
    free(v[9]);
    v[9] = NULL;
    r->symbols = take(v, 10);
    r->node_id = take(v, 11);
    r->reason = take(v, 12);
    if (quarantine) {
        r->action = xstrdup("quarantine");
        r->status = take(v, 13);
        r->released_ms = take_u64(v, 14);
        r->released_by = take(v, 15);
        r->release_reply = take(v, 16);
        r->learn = take(v, 17);
        r->learn_reply = take(v, 18);
        return;
    }
    r->action = take(v, 13);
    r->config_version = take_u64(v, 14);
    r->scan_us = (uint32_t)take_u64(v, 15);
    r->queue_id = take(v, 16);
}

/* '%' + s with LIKE's special characters escaped + '%'. */
static char *like_pattern(const char *s)
{
    buf_t b = {0};
    buf_puts(&b, "%");
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            buf_puts(&b, "\\");
        buf_append(&b, s, 1);
    }
    buf_puts(&b, "%");
    return b.data;
}

/* Appends the WHERE clause of q to sql and its values to x; `pats` keeps the LIKE
 * patterns alive until the statement ran. */
static void where_clause(const store_query *q, const char *action_col, buf_t *sql, binds *x,
                         char *pats[2])
{
    const char *and = " WHERE ";
#define COND(text)                                                                                 \
    do {                                                                                           \
        buf_puts(sql, and);                                                                        \
        buf_puts(sql, text);                                                                       \
        and = " AND ";                                                                             \
    } while (0)
    if (q->id && *q->id) {
        COND("job_id = ?");
        bind_str(x, q->id);
    }
    if (q->sender && *q->sender) {
        COND("sender LIKE ?");
        bind_str(x, pats[0] = like_pattern(q->sender));
    }
    if (q->recipient && *q->recipient) {
        COND("rcpt LIKE ?");
        bind_str(x, pats[1] = like_pattern(q->recipient));
    }
    if (q->client_ip && *q->client_ip) {
        COND("client_ip = ?");
        bind_str(x, q->client_ip);
    }
    if (q->action && *q->action) {
        buf_puts(sql, and);
        buf_printf(sql, "%s = ?", action_col);
        and = " AND ";
        bind_str(x, q->action);
    }
    if (q->since_ms) {
        COND("time >= FROM_UNIXTIME(? / 1000)");
        bind_u64(x, q->since_ms);
    }
    if (q->until_ms) {
        COND("time < FROM_UNIXTIME(? / 1000)");
        bind_u64(x, q->until_ms);
    }
#undef COND
}

/* Runs a SELECT and hands each row (ncols text columns) to fn; false on an error. */
static bool select_each(store *s, const char *sql, binds *x, unsigned ncols, const char *what,
                        void (*fn)(void *arg, char **v), void *arg, char *err, size_t errlen)
{
    MYSQL_STMT *st = run(s, NULL, sql, x, what, err, errlen);
    if (!st)
        return false;
    if (mysql_stmt_store_result(st) != 0) {
        stmt_fail(s, st, what, err, errlen);
        mysql_stmt_close(st);
        return false;
    }
    char *v[32];
    unsigned long len[32];
    int rc;
    while ((rc = fetch_text(st, ncols, v, len)) == 1) {
        fn(arg, v);
        for (unsigned i = 0; i < ncols; i++)
            free(v[i]);
    }
    if (rc < 0) {
        stmt_fail(s, st, what, err, errlen);
        mysql_stmt_close(st);
        return false;
    }
    mysql_stmt_close(st);
    return true;
}

/* select_each callback: appends a row's first column (unless NULL) to the strlist arg. */
static void add_first(void *arg, char **v)
{
    if (v[0])
        strlist_add(arg, v[0]);
}

/* Runs a SELECT of ncols columns and turns every row into a record. */
static bool select_records(store *s, const char *sql, binds *x, unsigned ncols, bool quarantine,
                           store_record **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    MYSQL_STMT *st = run(s, NULL, sql, x, "search", err, errlen);
    if (!st)
        return false;
    if (mysql_stmt_store_result(st) != 0) {
        stmt_fail(s, st, "search", err, errlen);
        mysql_stmt_close(st);
        return false;
    }
    size_t cap = (size_t)mysql_stmt_num_rows(st);
    *out = xcalloc(cap ? cap : 1, sizeof **out);
    char *v[32];
    unsigned long len[32];
    int rc;
    while (*n < cap && (rc = fetch_text(st, ncols, v, len)) == 1) {
        fill_record(v, quarantine, &(*out)[(*n)++]);
        for (unsigned i = 0; i < ncols; i++)
            free(v[i]);
    }
    mysql_stmt_close(st);
    return true;
}

static bool search(store *s, const store_query *q, bool quarantine, store_record **out, size_t *n,
                   char *err, size_t errlen)
{
    buf_t sql = {0};
    binds x = {0};
    char *pats[2] = {NULL, NULL};
    buf_printf(&sql, "SELECT %s FROM %s",
               quarantine ? READ_COLS ", status, " TIME_MS(
                                "released_at") ", released_by, release_reply, learn, learn_reply"
                          : LOG_COLS,
               quarantine ? "quarantine" : "message_log");
    where_clause(q, quarantine ? "status" : "action", &sql, &x, pats);
    buf_printf(&sql, " ORDER BY time DESC, job_id DESC LIMIT %u", q->limit ? q->limit : 100);
    bool ok = select_records(s, sql.data, &x, N_READ_COLS + (quarantine ? 6 : 4), quarantine, out,
                             n, err, errlen);
    buf_free(&sql);
    free(pats[0]);
    free(pats[1]);
    return ok;
}

bool store_log_search(store *s, const store_query *q, store_record **out, size_t *n, char *err,
                      size_t errlen)
{
    return search(s, q, false, out, n, err, errlen);
}

bool store_quarantine_list(store *s, const store_query *q, store_record **out, size_t *n, char *err,
                           size_t errlen)
{
    return search(s, q, true, out, n, err, errlen);
}

bool store_log_verdict(store *s, const char *id, store_record *out, bool *found, char *err,
                       size_t errlen)
{
    store_query q = {.id = id, .limit = 1};
    store_record *rows;
    size_t n;
    memset(out, 0, sizeof *out);
    *found = false;
    if (!search(s, &q, false, &rows, &n, err, errlen))
        return false;
    if (n) {
        *out = rows[0];
        *found = true;
    }
    free(rows);
    return true;
}

bool store_quarantine_get(store *s, const char *id, bool lock, store_record *out, char **z,
                          size_t *zlen, bool *found, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *z = NULL;
    *zlen = 0;
    *found = false;
    binds x = {0};
    bind_str(&x, id);
    const char *sql = lock ? "SELECT " QUAR_COLS " FROM quarantine WHERE job_id = ? FOR UPDATE"
                           : "SELECT " QUAR_COLS " FROM quarantine WHERE job_id = ?";
    MYSQL_STMT *st = run(s, NULL, sql, &x, "quarantine entry", err, errlen);
    if (!st)
        return false;
    char *v[32];
    unsigned long len[32];
    int rc = mysql_stmt_store_result(st) == 0 ? fetch_text(st, N_READ_COLS + 7, v, len) : -1;
    if (rc < 0) {
        stmt_fail(s, st, "quarantine entry", err, errlen);
        mysql_stmt_close(st);
        return false;
    }
    if (rc == 1) {
        *zlen = len[N_READ_COLS + 6];
        *z = v[N_READ_COLS + 6] ? v[N_READ_COLS + 6] : xstrdup("");
        fill_record(v, true, out);
        *found = true;
    }
    mysql_stmt_close(st);
    return true;
}

bool store_quarantine_mark_released(store *s, const char *id, const char *by, const char *reply,
                                    bool learn, char *err, size_t errlen)
{
    binds x = {0};
    bind_str(&x, by);
    bind_str(&x, reply);
    bind_str(&x, learn ? "pending" : "");
    bind_str(&x, id);
    return run_update(s, NULL,
                      "UPDATE quarantine SET status = 'released', released_at = NOW(3),"
                      " released_by = ?, release_reply = ?, learn = ?, learn_attempts = 0,"
                      " learn_after = NOW(3) WHERE job_id = ?",
                      &x, "mark released", NULL, err, errlen);
}

bool store_learn_claim(store *s, unsigned max, strlist *ids, char *err, size_t errlen)
{
    if (!run_update(s, NULL,
                    "UPDATE quarantine SET learn = 'failed',"
                    " learn_reply = CONCAT('gave up after ', learn_attempts, ' attempts: ',"
                    " learn_reply) WHERE learn = 'pending' AND learn_attempts >= 10",
                    NULL, "learn give up", NULL, err, errlen))
        return false;
    binds x = {0};
    bind_u64(&x, max);
    if (!select_each(s,
                     "SELECT job_id FROM quarantine WHERE learn = 'pending'"
                     " AND learn_after <= NOW(3) ORDER BY learn_after LIMIT ?",
                     &x, 1, "learn due", add_first, ids, err, errlen))
        return false;
    for (size_t i = 0; i < ids->n; i++) {
        binds y = {0};
        bind_str(&y, ids->v[i]);
        if (!run_update(s, NULL,
                        "UPDATE quarantine SET learn_attempts = learn_attempts + 1,"
                        " learn_after = NOW(3) + INTERVAL LEAST(3600, 60 * POW(2, learn_attempts))"
                        " SECOND WHERE job_id = ? AND learn = 'pending'",
                        &y, "learn claim", NULL, err, errlen))
            return false;
    }
    return true;
}

bool store_learn_done(store *s, const char *id, bool ok, const char *reply, char *err,
                      size_t errlen)
{
    binds x = {0};
    bind_str(&x, ok ? "done" : "failed");
    bind_str(&x, reply);
    bind_str(&x, id);
    return run_update(s, NULL,
                      "UPDATE quarantine SET learn = ?, learn_reply = LEFT(?, 1000)"
                      " WHERE job_id = ? AND learn = 'pending'",
                      &x, "learn done", NULL, err, errlen);
}

bool store_quarantine_delete(store *s, const char *id, bool *found, char *err, size_t errlen)
{
    binds x = {0};
    bind_str(&x, id);
    uint64_t n = 0;
    bool ok = run_update(s, NULL, "DELETE FROM quarantine WHERE job_id = ?", &x,
                         "delete quarantine entry", &n, err, errlen);
    *found = n > 0;
    return ok;
}

/* ---- DMARC results ---------------------------------------------------------------- */

void store_dmarc_free(store_dmarc *d)
{
    char **f[] = {&d->id,
                  &d->policy_domain,
                  &d->from_domain,
                  &d->rua,
                  &d->adkim,
                  &d->aspf,
                  &d->p,
                  &d->sp,
                  &d->fo,
                  &d->source_ip,
                  &d->envelope_from,
                  &d->envelope_to,
                  &d->result,
                  &d->disposition,
                  &d->dkim_aligned,
                  &d->spf_aligned,
                  &d->override,
                  &d->override_comment,
                  &d->spf_domain,
                  &d->spf_scope,
                  &d->spf_result,
                  &d->dkim};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        free(*f[i]);
    memset(d, 0, sizeof *d);
}

bool store_dmarc_insert(store *s, const store_dmarc *d, char *err, size_t errlen)
{
    binds x = {0};
    const char *strs[] = {d->policy_domain, d->from_domain, d->rua, d->adkim, d->aspf, d->p, d->sp};
    bind_str(&x, d->id);
    bind_u64(&x, d->time_ms);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        bind_str(&x, strs[i]);
    bind_u64(&x, d->pct);
    const char *more[] = {
        d->fo,          d->source_ip,    d->envelope_from, d->envelope_to, d->result,
        d->disposition, d->dkim_aligned, d->spf_aligned,   d->override,    d->override_comment,
        d->spf_domain,  d->spf_scope,    d->spf_result,    d->dkim};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        bind_str(&x, more[i]);
    return run_update(
        s, NULL,
        "INSERT IGNORE INTO dmarc_result (job_id, time, policy_domain, from_domain,"
        " rua, adkim, aspf, p, sp, pct, fo, source_ip, envelope_from, envelope_to,"
        " result, disposition, dkim_aligned, spf_aligned, override, override_comment,"
        " spf_domain, spf_scope, spf_result, dkim) VALUES (?, FROM_UNIXTIME(? / 1000),"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &x, "insert dmarc row", NULL, err, errlen);
}

bool store_dmarc_domains(store *s, uint64_t begin_ms, uint64_t end_ms, const char *domain,
                         strlist *out, char *err, size_t errlen)
{
    binds x = {0};
    bind_u64(&x, begin_ms);
    bind_u64(&x, end_ms);
    bool one = domain && *domain;
    if (one)
        bind_str(&x, domain);
    return select_each(s,
                       one ? "SELECT DISTINCT policy_domain FROM dmarc_result WHERE time >="
                             " FROM_UNIXTIME(? / 1000) AND time < FROM_UNIXTIME(? / 1000) AND"
                             " policy_domain = ? ORDER BY policy_domain"
                           : "SELECT DISTINCT policy_domain FROM dmarc_result WHERE time >="
                             " FROM_UNIXTIME(? / 1000) AND time < FROM_UNIXTIME(? / 1000)"
                             " ORDER BY policy_domain",
                       &x, 1, "dmarc domains", add_first, out, err, errlen);
}

/* The policy columns, in this order, of store_dmarc_latest. */
#define DMARC_POLICY_COLS "policy_domain, rua, adkim, aspf, p, sp, pct, fo"

static void take_policy(store_dmarc *d, char **v)
{
    d->policy_domain = take(v, 0);
    d->rua = take(v, 1);
    d->adkim = take(v, 2);
    d->aspf = take(v, 3);
    d->p = take(v, 4);
    d->sp = take(v, 5);
    d->pct = (unsigned)take_u64(v, 6);
    d->fo = take(v, 7);
}

typedef struct {
    store_dmarc *d;
    bool *found;
} latest_ctx;

static void take_latest(void *arg, char **v)
{
    latest_ctx *c = arg;
    if (*c->found)
        return;
    take_policy(c->d, v);
    *c->found = true;
}

bool store_dmarc_latest(store *s, const char *domain, uint64_t begin_ms, uint64_t end_ms,
                        store_dmarc *out, bool *found, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *found = false;
    binds x = {0};
    bind_str(&x, domain);
    bind_u64(&x, begin_ms);
    bind_u64(&x, end_ms);
    latest_ctx c = {out, found};
    return select_each(s,
                       "SELECT " DMARC_POLICY_COLS " FROM dmarc_result WHERE policy_domain = ?"
                       " AND time >= FROM_UNIXTIME(? / 1000) AND time < FROM_UNIXTIME(? / 1000)"
                       " ORDER BY time DESC, job_id DESC LIMIT 1",
                       &x, 8, "dmarc policy", take_latest, &c, err, errlen);
}

/* The grouping columns, in this order, then the count. */
#define DMARC_GROUP_COLS                                                                           \
    "source_ip, disposition, dkim_aligned, spf_aligned, override, override_comment,"               \
    " envelope_to, envelope_from, from_domain, spf_domain, spf_scope, spf_result, dkim, result"
#define N_DMARC_GROUP_COLS 14

typedef struct {
    store_dmarc *v;
    size_t n, cap;
} group_list;

static void take_group(void *arg, char **v)
{
    group_list *g = arg;
    if (g->n == g->cap)
        g->v = xrealloc(g->v, (g->cap = g->cap ? g->cap * 2 : 16) * sizeof *g->v);
    store_dmarc *d = &g->v[g->n++];
    memset(d, 0, sizeof *d);
    char **f[] = {
        &d->source_ip,        &d->disposition, &d->dkim_aligned,  &d->spf_aligned, &d->override,
        &d->override_comment, &d->envelope_to, &d->envelope_from, &d->from_domain, &d->spf_domain,
        &d->spf_scope,        &d->spf_result,  &d->dkim,          &d->result};
    for (unsigned i = 0; i < N_DMARC_GROUP_COLS; i++)
        *f[i] = take(v, i);
    d->count = take_u64(v, N_DMARC_GROUP_COLS);
}

bool store_dmarc_groups(store *s, const char *domain, uint64_t begin_ms, uint64_t end_ms,
                        store_dmarc **out, size_t *n, char *err, size_t errlen)
{
    binds x = {0};
    bind_str(&x, domain);
    bind_u64(&x, begin_ms);
    bind_u64(&x, end_ms);
    group_list g = {0};
    bool ok = select_each(s,
                          "SELECT " DMARC_GROUP_COLS ", COUNT(*) AS n FROM dmarc_result"
                          " WHERE policy_domain = ? AND time >= FROM_UNIXTIME(? / 1000)"
                          " AND time < FROM_UNIXTIME(? / 1000) GROUP BY " DMARC_GROUP_COLS
                          " ORDER BY n DESC, " DMARC_GROUP_COLS,
                          &x, N_DMARC_GROUP_COLS + 1, "dmarc groups", take_group, &g, err, errlen);
    if (!ok) {
        for (size_t i = 0; i < g.n; i++)
            store_dmarc_free(&g.v[i]);
        free(g.v);
        g.v = NULL;
        g.n = 0;
    }
    *out = g.v;
    *n = g.n;
    return ok;
}

typedef struct {
    bool *sent;
    char **reply;
} sent_ctx;

static void take_sent(void *arg, char **v)
{
    sent_ctx *c = arg;
    *c->sent = true;
    if (c->reply && !*c->reply)
        *c->reply = take(v, 0);
}

bool store_dmarc_sent(store *s, const char *domain, const char *day, bool *sent, char **reply,
                      char *err, size_t errlen)
{
    *sent = false;
    if (reply)
        *reply = NULL;
    binds x = {0};
    bind_str(&x, domain);
    bind_str(&x, day);
    sent_ctx c = {sent, reply};
    return select_each(s, "SELECT reply FROM dmarc_report WHERE policy_domain = ? AND day = ?", &x,
                       1, "dmarc sent", take_sent, &c, err, errlen);
}

bool store_dmarc_mark_sent(store *s, const char *domain, const char *day, const char *report_id,
                           const char *reply, char *err, size_t errlen)
{
    binds x = {0};
    bind_str(&x, domain);
    bind_str(&x, day);
    bind_str(&x, report_id);
    bind_str(&x, reply);
    return run_update(s, NULL,
                      "INSERT INTO dmarc_report (policy_domain, day, report_id, sent_at, reply)"
                      " VALUES (?, ?, ?, NOW(3), LEFT(?, 1000)) ON DUPLICATE KEY UPDATE"
                      " report_id = VALUES(report_id), sent_at = VALUES(sent_at),"
                      " reply = VALUES(reply)",
                      &x, "dmarc mark sent", NULL, err, errlen);
}

bool store_age(store *s, const char *table, unsigned days, uint64_t *deleted, char *err,
               size_t errlen)
{
    *deleted = 0;
    if (strcmp(table, "message_log") != 0 && strcmp(table, "quarantine") != 0 &&
        strcmp(table, "dmarc_result") != 0)
        log_panic("event=store_age table=%s reason=\"unknown table\"", table);
    char sql[160];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE time < NOW(3) - INTERVAL ? DAY LIMIT 10000",
             table);
    for (;;) {
        binds x = {0};
        bind_u64(&x, days);
        uint64_t n = 0;
        if (!run_update(s, NULL, sql, &x, "age rows", &n, err, errlen))
            return false;
        *deleted += n;
        if (n < 10000)
            return true;
    }
}
