/* store.c - MariaDB access for the master: migrations and config versions.
 *
 * One connection, used only from the master's main thread. Migrations are the
 * files sql/NNN_name.sql embedded at build time; schema_migration records which
 * ran, and a named lock keeps two masters starting together from racing. A lost
 * connection is noticed on the next failing call: the handle is dropped and the
 * next store_connect() makes a new one. Statements use prepared parameters
 * wherever a value comes from outside. */
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
    if (!exec(s, "START TRANSACTION", err, errlen))
        return false;
    /* FOR UPDATE on the newest row (or the gap above it): two masters changing the
     * configuration at once are serialised here, and the second sees the first. */
    if (mysql_query(s->db, "SELECT " VERSION_COLS ", content FROM config_version"
                           " ORDER BY version DESC LIMIT 1 FOR UPDATE") != 0) {
        fail(s, "change config", err, errlen);
        store_change_rollback(s);
        return false;
    }
    MYSQL_RES *r = mysql_store_result(s->db);
    if (!r) {
        fail(s, "change config", err, errlen);
        store_change_rollback(s);
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

bool store_change_insert(store *s, uint64_t version, const char *author, const char *comment,
                         const char *changes, const char *content, char *err, size_t errlen)
{
    if (!s->db)
        return fail(s, "insert version", err, errlen);
    MYSQL_STMT *st = mysql_stmt_init(s->db);
    const char *sql = "INSERT INTO config_version (version, author, comment, changes, content)"
                      " VALUES (?, ?, ?, ?, ?)";
    unsigned long long v = version;
    MYSQL_BIND b[5];
    memset(b, 0, sizeof b);
    b[0].buffer_type = MYSQL_TYPE_LONGLONG;
    b[0].buffer = &v;
    b[0].is_unsigned = 1;
    const char *vals[4] = {author, comment, changes, content};
    unsigned long lens[4];
    for (int i = 0; i < 4; i++) {
        lens[i] = strlen(vals[i]);
        b[i + 1].buffer_type = MYSQL_TYPE_STRING;
        b[i + 1].buffer = (void *)vals[i];
        b[i + 1].buffer_length = lens[i];
        b[i + 1].length = &lens[i];
    }
    bool ok = st && mysql_stmt_prepare(st, sql, strlen(sql)) == 0 &&
              mysql_stmt_bind_param(st, b) == 0 && mysql_stmt_execute(st) == 0;
    if (!ok)
        snprintf(err, errlen, "insert version: %s", st ? mysql_stmt_error(st) : "no statement");
    if (st)
        mysql_stmt_close(st);
    return ok;
}

bool store_change_commit(store *s, char *err, size_t errlen)
{
    if (!s->db || mysql_query(s->db, "COMMIT") != 0)
        return fail(s, "commit", err, errlen);
    return true;
}

void store_change_rollback(store *s)
{
    if (s->db)
        mysql_query(s->db, "ROLLBACK");
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
        store_change_rollback(s);
        return false;
    }
    if (!store_change_insert(s, have + 1, author, comment, changes, content, err, errlen)) {
        store_change_rollback(s);
        return false;
    }
    if (!store_change_commit(s, err, errlen))
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
