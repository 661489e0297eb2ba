/* test_params.c - unit tests for shared/params.c.
 *
 * Covers the defaults of every table, parsing of each type (sizes with k/m/g,
 * durations in ms/s/m/h/d and bare seconds, booleans, enums, integers that refuse
 * fractions, numbers that refuse NaN/inf), the exact refusal sentences for bounds,
 * types and unknown keys, dynamic `score.NAME` keys, params_load_text/_file and
 * their "origin:line: reason" errors (NUL bytes included), params_unset,
 * params_dup independence, params_next_set iteration and params_doc coverage. */
#include "params.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define assert_dbl(a, b)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= 1e-9))                                                              \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                    \
    } while (0)

/* Sets key=value and asserts success. */
static void set_ok(params *p, const char *key, const char *value)
{
    char err[512] = "";
    if (!params_set(p, key, value, err, sizeof err))
        fail_msg("params_set(%s, '%s') refused: %s", key, value, err);
}

/* Sets key=value, asserts refusal with exactly `want` as the sentence. */
static void set_refused(params *p, const char *key, const char *value, const char *want)
{
    char err[512] = "";
    assert_false(params_set(p, key, value, err, sizeof err));
    assert_string_equal(err, want);
}

/* ---- defaults ---------------------------------------------------------------- */

static void test_defaults_master(void **state)
{
    params *p = params_new(&params_master);
    assert_ptr_equal(params_table(p), &params_master);
    assert_string_equal(params_str(p, "client_endpoint"), "tcp://127.0.0.1:7400");
    assert_string_equal(params_str(p, "master_id"), "");
    assert_true(params_bool(p, "curve_enable"));
    assert_int_equal(params_int(p, "db_port"), 3306);
    assert_int_equal(params_int(p, "heartbeat_interval"), 1000);
    assert_int_equal(params_int(p, "heartbeat_liveness"), 3);
    assert_int_equal(params_int(p, "attempt_timeout"), 30000);
    assert_int_equal(params_int(p, "max_attempts"), 3);
    assert_int_equal(params_int(p, "queue_max"), 20000);
    assert_int_equal(params_int(p, "max_frame_size"), 64 * 1024 * 1024);
    assert_int_equal(params_int(p, "shutdown_grace"), 10000);
    assert_string_equal(params_str(p, "log_level"), "info");
    /* Nothing is "set" on a fresh object. */
    size_t it = 0;
    const char *k, *v;
    assert_false(params_next_set(p, &it, &k, &v));
    params_destroy(&p);
    assert_null(p);
    params_destroy(&p); /* NULL: no-op */
}

static void test_defaults_other_tables(void **state)
{
    params *n = params_new(&params_node);
    assert_int_equal(params_int(n, "workers"), 0);
    assert_int_equal(params_int(n, "jobs_per_worker"), 2);
    assert_int_equal(params_int(n, "reconnect_max"), 16000);
    params_destroy(&n);

    params *c = params_new(&params_ctl);
    assert_int_equal(params_int(c, "timeout"), 30000);
    assert_int_equal(params_int(c, "window"), 64);
    params_destroy(&c);

    params *cl = params_new(&params_cluster);
    assert_dbl(params_double(cl, "policy.tag_score"), 5);
    assert_dbl(params_double(cl, "policy.quarantine_score"), 10);
    assert_dbl(params_double(cl, "policy.reject_score"), 15);
    assert_int_equal(params_int(cl, "quarantine.retention_days"), 30);
    assert_int_equal(params_int(cl, "check.size.max_bytes"), 50LL * 1024 * 1024);
    assert_int_equal(params_int(cl, "check.headers.max_future"), 86400000LL);
    assert_int_equal(params_int(cl, "check.headers.max_past"), 30LL * 86400000);
    assert_string_equal(params_str(cl, "check.gtube.action"), "reject");
    double w;
    assert_false(params_dynamic(cl, "score.GTUBE", &w));
    params_destroy(&cl);
}

/* ---- types -------------------------------------------------------------------- */

static void test_sizes(void **state)
{
    params *p = params_new(&params_master);
    static const struct {
        const char *in;
        long long want;
    } ok[] = {
        {"2048", 2048},
        {"1k", 1024},
        {"1K", 1024},
        {"4kb", 4096},
        {"2m", 2097152},
        {"3MB", 3145728},
        {"1g", 1073741824},
        {"1.5k", 1536},
        {"10 m", 10485760},
        {"1024", 1024},
        {"1073741824", 1073741824},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        set_ok(p, "max_frame_size", ok[i].in);
        assert_int_equal(params_int(p, "max_frame_size"), ok[i].want);
        assert_string_equal(params_str(p, "max_frame_size"), ok[i].in);
    }
    set_refused(p, "max_frame_size", "10x",
                "bad value for 'max_frame_size': '10x' is not a size (bytes, or with k/m/g)");
    set_refused(p, "max_frame_size", "-1k",
                "bad value for 'max_frame_size': '-1k' is not a size (bytes, or with k/m/g)");
    set_refused(p, "max_frame_size", "k",
                "bad value for 'max_frame_size': 'k' is not a size (bytes, or with k/m/g)");
    set_refused(p, "max_frame_size", "",
                "bad value for 'max_frame_size': '' is not a size (bytes, or with k/m/g)");
    set_refused(p, "max_frame_size", "1t",
                "bad value for 'max_frame_size': '1t' is not a size (bytes, or with k/m/g)");
    set_refused(p, "max_frame_size", "inf",
                "bad value for 'max_frame_size': 'inf' is not a size (bytes, or with k/m/g)");
    set_refused(p, "max_frame_size", "1023",
                "bad value for 'max_frame_size': '1023' is out of range [1024, 1073741824] bytes");
    set_refused(p, "max_frame_size", "2g",
                "bad value for 'max_frame_size': '2g' is out of range [1024, 1073741824] bytes");
    /* A refusal leaves the previous value. */
    assert_int_equal(params_int(p, "max_frame_size"), 1073741824);
    params_destroy(&p);
}

static void test_durations(void **state)
{
    params *p = params_new(&params_master);
    static const struct {
        const char *key, *in;
        long long want;
    } ok[] = {
        {"heartbeat_interval", "50ms", 50},
        {"heartbeat_interval", "250MS", 250},
        {"heartbeat_interval", "2s", 2000},
        {"heartbeat_interval", "1.5s", 1500},
        {"heartbeat_interval", "1m", 60000},
        {"heartbeat_interval", "3", 3000}, /* bare number: seconds */
        {"heartbeat_interval", "0.25", 250}, /* bare fraction of a second */
        {"heartbeat_interval", "10 s", 10000},
        {"attempt_timeout", "1h", 3600000},
        {"shutdown_grace", "0", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        set_ok(p, ok[i].key, ok[i].in);
        assert_int_equal(params_int(p, ok[i].key), ok[i].want);
    }
    set_refused(p, "heartbeat_interval", "49ms",
                "bad value for 'heartbeat_interval': '49ms' is out of range [50, 60000] ms");
    set_refused(p, "heartbeat_interval", "2m",
                "bad value for 'heartbeat_interval': '2m' is out of range [50, 60000] ms");
    set_refused(p, "heartbeat_interval", "1w",
                "bad value for 'heartbeat_interval': '1w' is not a duration (seconds, or with "
                "ms/s/m/h/d)");
    set_refused(p, "heartbeat_interval", "5 sec",
                "bad value for 'heartbeat_interval': '5 sec' is not a duration (seconds, or with "
                "ms/s/m/h/d)");
    set_refused(p, "heartbeat_interval", "-1s",
                "bad value for 'heartbeat_interval': '-1s' is not a duration (seconds, or with "
                "ms/s/m/h/d)");
    set_refused(p, "attempt_timeout", "2h",
                "bad value for 'attempt_timeout': '2h' is out of range [100, 3600000] ms");
    params_destroy(&p);

    params *c = params_new(&params_cluster);
    set_ok(c, "check.headers.max_future", "2d");
    assert_int_equal(params_int(c, "check.headers.max_future"), 2LL * 86400000);
    set_ok(c, "check.headers.max_past", "3650d"); /* 10 years: the maximum */
    assert_int_equal(params_int(c, "check.headers.max_past"), 315360000000LL);
    set_refused(c, "check.headers.max_past", "3651d",
                "bad value for 'check.headers.max_past': '3651d' is out of range [0, "
                "315360000000] ms");
    params_destroy(&c);
}

static void test_bools(void **state)
{
    params *p = params_new(&params_master);
    static const char *yes[] = {"yes", "YES", "true", "True", "on", "1"};
    static const char *no[] = {"no", "NO", "false", "off", "Off", "0"};
    for (size_t i = 0; i < 6; i++) {
        set_ok(p, "curve_enable", no[i]);
        assert_false(params_bool(p, "curve_enable"));
        assert_int_equal(params_int(p, "curve_enable"), 0);
        set_ok(p, "curve_enable", yes[i]);
        assert_true(params_bool(p, "curve_enable"));
        assert_int_equal(params_int(p, "curve_enable"), 1);
    }
    set_refused(p, "curve_enable", "maybe",
                "bad value for 'curve_enable': 'maybe' is not yes or no");
    set_refused(p, "curve_enable", "", "bad value for 'curve_enable': '' is not yes or no");
    set_refused(p, "curve_enable", "2", "bad value for 'curve_enable': '2' is not yes or no");
    set_refused(p, "curve_enable", "y", "bad value for 'curve_enable': 'y' is not yes or no");
    assert_true(params_bool(p, "curve_enable"));
    params_destroy(&p);
}

static void test_enums(void **state)
{
    params *p = params_new(&params_master);
    static const char *ok[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < 4; i++) {
        set_ok(p, "log_level", ok[i]);
        assert_string_equal(params_str(p, "log_level"), ok[i]);
    }
    set_refused(p, "log_level", "verbose",
                "bad value for 'log_level': 'verbose' is not one of debug|info|warn|error");
    set_refused(p, "log_level", "DEBUG", /* choices are exact */
                "bad value for 'log_level': 'DEBUG' is not one of debug|info|warn|error");
    set_refused(p, "log_level", "deb",
                "bad value for 'log_level': 'deb' is not one of debug|info|warn|error");
    set_refused(p, "log_level", "info|warn",
                "bad value for 'log_level': 'info|warn' is not one of debug|info|warn|error");
    set_refused(p, "log_level", "",
                "bad value for 'log_level': '' is not one of debug|info|warn|error");
    assert_string_equal(params_str(p, "log_level"), "error");
    params_destroy(&p);

    params *c = params_new(&params_cluster);
    set_ok(c, "check.size.action", "none");
    set_ok(c, "check.size.action", "quarantine");
    set_refused(c, "check.size.action", "tempfail",
                "bad value for 'check.size.action': 'tempfail' is not one of "
                "none|tag|quarantine|reject");
    params_destroy(&c);
}

static void test_ints(void **state)
{
    params *p = params_new(&params_master);
    set_ok(p, "db_port", "8080");
    assert_int_equal(params_int(p, "db_port"), 8080);
    assert_dbl(params_double(p, "db_port"), 8080);
    set_ok(p, "db_port", "1");
    set_ok(p, "db_port", "65535");
    set_ok(p, "db_port", "25.0"); /* integral value written with a fraction part */
    assert_int_equal(params_int(p, "db_port"), 25);
    set_refused(p, "db_port", "80.5", "bad value for 'db_port': '80.5' is not an integer");
    set_refused(p, "db_port", "0", "bad value for 'db_port': '0' is out of range [1, 65535]");
    set_refused(p, "db_port", "65536",
                "bad value for 'db_port': '65536' is out of range [1, 65535]");
    set_refused(p, "db_port", "-1", "bad value for 'db_port': '-1' is out of range [1, 65535]");
    set_refused(p, "db_port", "12abc", "bad value for 'db_port': '12abc' is not an integer");
    set_refused(p, "db_port", "", "bad value for 'db_port': '' is not an integer");
    set_refused(p, "db_port", "nan", "bad value for 'db_port': 'nan' is not an integer");
    assert_int_equal(params_int(p, "db_port"), 25);
    set_ok(p, "queue_max", "10000000");
    assert_int_equal(params_int(p, "queue_max"), 10000000);
    set_refused(p, "queue_max", "10000001",
                "bad value for 'queue_max': '10000001' is out of range [1, 10000000]");
    params_destroy(&p);
}

static void test_surrounding_whitespace_in_number(void **state)
{
    /* The value is const: parsing must not write into it. A string literal lives
     * in read-only memory, so writing would crash here. */
    params *p = params_new(&params_master);
    set_ok(p, "db_port", " 4242 ");
    assert_int_equal(params_int(p, "db_port"), 4242);
    params *c = params_new(&params_cluster);
    set_ok(c, "policy.tag_score", "2.5\t");
    assert_dbl(params_double(c, "policy.tag_score"), 2.5);
    char err[256];
    const char *lit = "7 ";
    assert_true(params_check(&params_cluster, "score.X", lit, err, sizeof err));
    assert_string_equal(lit, "7 ");
    params_destroy(&c);
    params_destroy(&p);
}

static void test_doubles(void **state)
{
    params *c = params_new(&params_cluster);
    set_ok(c, "policy.tag_score", "7.25");
    assert_dbl(params_double(c, "policy.tag_score"), 7.25);
    set_ok(c, "policy.tag_score", "-1000");
    assert_dbl(params_double(c, "policy.tag_score"), -1000);
    set_ok(c, "policy.reject_score", "1e5");
    assert_dbl(params_double(c, "policy.reject_score"), 100000);
    set_refused(c, "policy.tag_score", "-1000.5",
                "bad value for 'policy.tag_score': '-1000.5' is out of range [-1000, 100000]");
    set_refused(c, "policy.tag_score", "nan",
                "bad value for 'policy.tag_score': 'nan' is not a number");
    set_refused(c, "policy.tag_score", "inf",
                "bad value for 'policy.tag_score': 'inf' is not a number");
    set_refused(c, "policy.tag_score", "1e999",
                "bad value for 'policy.tag_score': '1e999' is not a number");
    set_refused(c, "policy.tag_score", "five",
                "bad value for 'policy.tag_score': 'five' is not a number");
    assert_dbl(params_double(c, "policy.tag_score"), -1000);
    params_destroy(&c);
}

static void test_strings_one_line(void **state)
{
    params *p = params_new(&params_master);
    set_ok(p, "master_id", "m1 with spaces = and # chars");
    assert_string_equal(params_str(p, "master_id"), "m1 with spaces = and # chars");
    set_ok(p, "master_id", "");
    assert_string_equal(params_str(p, "master_id"), "");
    set_refused(p, "master_id", "a\nb", "value for 'master_id' must be on one line");
    set_refused(p, "master_id", "a\rb", "value for 'master_id' must be on one line");
    set_refused(p, "db_port", "1\n2", "value for 'db_port' must be on one line");
    params_destroy(&p);
}

static void test_unknown_keys(void **state)
{
    params *p = params_new(&params_master);
    set_refused(p, "no_such", "1", "unknown parameter 'no_such'");
    set_refused(p, "", "1", "unknown parameter ''");
    set_refused(p, "DB_PORT", "1", "unknown parameter 'DB_PORT'"); /* names are exact */
    set_refused(p, "score.MISSING_DATE", "1", /* the master table has no dynamic keys */
                "unknown parameter 'score.MISSING_DATE'");
    /* A key of another table is unknown here. */
    set_refused(p, "workers", "4", "unknown parameter 'workers'");
    char err[128];
    assert_false(params_check(&params_node, "client_endpoint", "x", err, sizeof err));
    assert_string_equal(err, "unknown parameter 'client_endpoint'");
    /* params_check only checks. */
    assert_true(params_check(&params_master, "db_port", "1234", err, sizeof err));
    assert_int_equal(params_int(p, "db_port"), 3306);
    params_destroy(&p);
}

static void test_dynamic_keys(void **state)
{
    params *c = params_new(&params_cluster);
    double w = 0;
    set_ok(c, "score.MISSING_DATE", "2.5");
    assert_true(params_dynamic(c, "score.MISSING_DATE", &w));
    assert_dbl(w, 2.5);
    set_ok(c, "score.X_1", "-3");
    assert_true(params_dynamic(c, "score.X_1", &w));
    assert_dbl(w, -3);
    set_ok(c, "score.MISSING_DATE", "4"); /* replaces, not a second entry */
    assert_true(params_dynamic(c, "score.MISSING_DATE", &w));
    assert_dbl(w, 4);
    assert_false(params_dynamic(c, "score.NOT_SET", &w));
    assert_dbl(w, 4); /* untouched */

    char name[80];
    snprintf(name, sizeof name, "score.%064d", 0); /* 64 characters: the limit */
    set_ok(c, name, "1");
    snprintf(name, sizeof name, "score.%065d", 0);
    char want[128];
    snprintf(want, sizeof want, "unknown parameter '%s'", name);
    set_refused(c, name, "1", want);

    set_refused(c, "score.", "1", "unknown parameter 'score.'");
    set_refused(c, "score.lower", "1", "unknown parameter 'score.lower'");
    set_refused(c, "score.A-B", "1", "unknown parameter 'score.A-B'");
    set_refused(c, "score.A B", "1", "unknown parameter 'score.A B'");
    set_refused(c, "Score.A", "1", "unknown parameter 'Score.A'");
    set_refused(c, "score.GTUBE", "lots", "bad value for 'score.GTUBE': 'lots' is not a number");
    set_refused(c, "score.GTUBE", "100001",
                "bad value for 'score.GTUBE': '100001' is out of range [-100000, 100000]");
    set_refused(c, "score.GTUBE", "nan", "bad value for 'score.GTUBE': 'nan' is not a number");
    assert_false(params_dynamic(c, "score.GTUBE", &w));

    /* Iteration shows three dynamic values, in the order they were first set. */
    size_t it = 0, n = 0;
    const char *k, *v;
    const char *keys[3] = {0}, *vals[3] = {0};
    while (params_next_set(c, &it, &k, &v)) {
        assert_true(n < 3);
        keys[n] = k;
        vals[n] = v;
        n++;
    }
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "score.MISSING_DATE");
    assert_string_equal(vals[0], "4");
    assert_string_equal(keys[1], "score.X_1");
    assert_string_equal(vals[1], "-3");
    params_destroy(&c);
}

/* ---- load_text / load_file ------------------------------------------------------ */

static bool load(params *p, const char *text, char *err, size_t errlen)
{
    return params_load_text(p, "conf", text, strlen(text), err, errlen);
}

static void test_load_text_good(void **state)
{
    params *p = params_new(&params_master);
    char err[512] = "";
    const char *text = "# comment line\n"
                       "\n"
                       "   \t\n"
                       "master_id = m1\r\n" /* CRLF */
                       "  db_port=3307  \n" /* no spaces around '=' */
                       "  # indented comment\n"
                       "db_password_file = /a=b\n" /* '=' inside the value */
                       "heartbeat_interval = 250ms\n"
                       "log_level = debug"; /* no final newline */
    assert_true(load(p, text, err, sizeof err));
    assert_string_equal(params_str(p, "master_id"), "m1");
    assert_int_equal(params_int(p, "db_port"), 3307);
    assert_string_equal(params_str(p, "db_password_file"), "/a=b");
    assert_int_equal(params_int(p, "heartbeat_interval"), 250);
    assert_string_equal(params_str(p, "log_level"), "debug");
    /* Empty input and comments only are fine. */
    assert_true(params_load_text(p, "conf", "", 0, err, sizeof err));
    assert_true(load(p, "#x\n#y\n", err, sizeof err));
    params_destroy(&p);
}

static void test_load_text_errors(void **state)
{
    params *p = params_new(&params_master);
    char err[512];
    assert_false(load(p, "# ok\n\ngarbage here\n", err, sizeof err));
    assert_string_equal(err, "conf:3: expected 'name = value', got 'garbage here'");
    assert_false(load(p, "db_port = 1\n = 5\n", err, sizeof err));
    assert_string_equal(err, "conf:2: missing parameter name before '='");
    assert_false(load(p, "\n\n\nnope = 1\n", err, sizeof err));
    assert_string_equal(err, "conf:4: unknown parameter 'nope'");
    assert_false(load(p, "master_id = a\r\ndb_port = 0\r\n", err, sizeof err));
    assert_string_equal(err, "conf:2: bad value for 'db_port': '0' is out of range [1, 65535]");
    assert_false(load(p, "log_level = loud\n", err, sizeof err));
    assert_string_equal(
        err, "conf:1: bad value for 'log_level': 'loud' is not one of debug|info|warn|error");

    /* A long bad line is quoted cut to 60 characters. */
    char longline[200];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    assert_false(load(p, longline, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "conf:1: expected 'name = value', got '%.60s'", longline);
    assert_string_equal(err, want);
    params_destroy(&p);
}

static void test_load_text_nul(void **state)
{
    params *p = params_new(&params_master);
    char err[256];
    static const char text[] = "master_id = a\nmaster_id = b\0c\nlog_level = debug\n";
    assert_false(params_load_text(p, "conf", text, sizeof text - 1, err, sizeof err));
    assert_string_equal(err, "conf:2: NUL byte in line");
    /* The line after the NUL was not read. */
    assert_string_equal(params_str(p, "log_level"), "info");
    /* A NUL in a comment is still refused: it would hide the rest of the line. */
    static const char text2[] = "#\0\n";
    assert_false(params_load_text(p, "other", text2, sizeof text2 - 1, err, sizeof err));
    assert_string_equal(err, "other:1: NUL byte in line");
    /* Text need not be NUL-terminated: only len bytes are read. */
    static const char text3[] = "master_id = abcdef";
    assert_true(params_load_text(p, "conf", text3, 13, err, sizeof err));
    assert_string_equal(params_str(p, "master_id"), "a");
    params_destroy(&p);
}

static void test_load_file(void **state)
{
    char dir[] = "/tmp/bw-params-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/node.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("workers = 4\njobs_per_worker = 3\n\nheartbeat_interval = 2\nbogus\n", f);
    fclose(f);

    params *p = params_new(&params_node);
    char err[512], want[256];
    assert_false(params_load_file(p, path, err, sizeof err));
    snprintf(want, sizeof want, "%s:5: expected 'name = value', got 'bogus'", path);
    assert_string_equal(err, want);
    assert_int_equal(params_int(p, "workers"), 4);
    assert_int_equal(params_int(p, "heartbeat_interval"), 2000);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("workers = 8\n", f);
    fclose(f);
    assert_true(params_load_file(p, path, err, sizeof err));
    assert_int_equal(params_int(p, "workers"), 8);
    unlink(path);

    assert_false(params_load_file(p, path, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot read: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);
    rmdir(dir);
    params_destroy(&p);
}

/* ---- unset, dup, iteration, doc ------------------------------------------------- */

static void test_unset(void **state)
{
    params *c = params_new(&params_cluster);
    set_ok(c, "policy.tag_score", "3");
    set_ok(c, "check.size.max_bytes", "1m");
    set_ok(c, "score.GTUBE", "50");
    assert_true(params_unset(c, "policy.tag_score"));
    assert_dbl(params_double(c, "policy.tag_score"), 5);
    assert_string_equal(params_str(c, "policy.tag_score"), "5");
    assert_true(params_unset(c, "score.GTUBE"));
    double w;
    assert_false(params_dynamic(c, "score.GTUBE", &w));
    /* A valid dynamic name that is not set: nothing to do, but not an error. */
    assert_true(params_unset(c, "score.NEVER_SET"));
    assert_false(params_unset(c, "score.bad-name"));
    assert_false(params_unset(c, "no.such.key"));
    /* Only check.size.max_bytes is still set. */
    size_t it = 0;
    const char *k, *v;
    assert_true(params_next_set(c, &it, &k, &v));
    assert_string_equal(k, "check.size.max_bytes");
    assert_string_equal(v, "1m");
    assert_false(params_next_set(c, &it, &k, &v));
    /* Unsetting a default that was never set is fine too. */
    assert_true(params_unset(c, "policy.reject_score"));
    assert_dbl(params_double(c, "policy.reject_score"), 15);
    params_destroy(&c);
}

static void test_dup_independent(void **state)
{
    params *a = params_new(&params_cluster);
    set_ok(a, "policy.subject_prefix", "[SPAM]");
    set_ok(a, "score.MISSING_FROM", "7");
    params *b = params_dup(a);
    assert_ptr_equal(params_table(b), &params_cluster);
    assert_string_equal(params_str(b, "policy.subject_prefix"), "[SPAM]");
    double w;
    assert_true(params_dynamic(b, "score.MISSING_FROM", &w));
    assert_dbl(w, 7);

    set_ok(b, "policy.subject_prefix", "[JUNK]");
    set_ok(b, "score.MISSING_FROM", "1");
    set_ok(b, "score.NEW_ONE", "2");
    assert_string_equal(params_str(a, "policy.subject_prefix"), "[SPAM]");
    assert_true(params_dynamic(a, "score.MISSING_FROM", &w));
    assert_dbl(w, 7);
    assert_false(params_dynamic(a, "score.NEW_ONE", &w));

    set_ok(a, "policy.tag_score", "1");
    assert_dbl(params_double(b, "policy.tag_score"), 5);

    /* The copy outlives the original. */
    params_destroy(&a);
    assert_string_equal(params_str(b, "policy.subject_prefix"), "[JUNK]");
    assert_true(params_dynamic(b, "score.NEW_ONE", &w));
    assert_dbl(w, 2);

    params *e = params_new(&params_ctl); /* dup with no dynamic values */
    params *f = params_dup(e);
    assert_int_equal(params_int(f, "window"), 64);
    params_destroy(&e);
    params_destroy(&f);
    params_destroy(&b);
}

static void test_next_set_order(void **state)
{
    params *c = params_new(&params_cluster);
    /* Set out of table order; iteration follows the table, then dynamic keys. */
    set_ok(c, "score.B", "2");
    set_ok(c, "check.gtube.enabled", "no");
    set_ok(c, "policy.tag_score", "4");
    set_ok(c, "score.A", "1");
    static const char *want_k[] = {"policy.tag_score", "check.gtube.enabled", "score.B", "score.A"};
    static const char *want_v[] = {"4", "no", "2", "1"};
    size_t it = 0, n = 0;
    const char *k, *v;
    while (params_next_set(c, &it, &k, &v)) {
        assert_true(n < 4);
        assert_string_equal(k, want_k[n]);
        assert_string_equal(v, want_v[n]);
        n++;
    }
    assert_int_equal(n, 4);
    assert_false(params_next_set(c, &it, &k, &v)); /* stays at the end */
    params_destroy(&c);
}

static void test_doc_lists_every_parameter(void **state)
{
    const param_table *tables[] = {&params_master, &params_node, &params_ctl, &params_cluster};
    for (size_t t = 0; t < 4; t++) {
        char *doc = NULL;
        params_doc(tables[t], &doc);
        assert_non_null(doc);
        char want[256];
        snprintf(want, sizeof want, "## %s\n", tables[t]->title);
        assert_true(strncmp(doc, want, strlen(want)) == 0);
        for (size_t i = 0; i < tables[t]->n; i++) {
            snprintf(want, sizeof want, "| `%s` |", tables[t]->defs[i].name);
            if (!strstr(doc, want))
                fail_msg("doc of %s lacks %s", tables[t]->title, tables[t]->defs[i].name);
            assert_non_null(strstr(doc, tables[t]->defs[i].doc));
        }
        if (tables[t]->dynamic_doc)
            assert_non_null(strstr(doc, tables[t]->dynamic_doc));
        free(doc);
    }
    char *doc = NULL;
    params_doc(&params_master, &doc);
    assert_non_null(
        strstr(doc, "| `db_port` | integer | `3306` | 1 .. 65535 | MariaDB TCP port. |"));
    assert_non_null(strstr(doc, "| `heartbeat_interval` | duration | `1s` | 50 .. 60000 ms |"));
    /* Every parameter row has five cells: a '|' inside one (enum choices) would
     * break the Markdown table. */
    size_t rows = 0;
    for (const char *l = doc; (l = strstr(l, "\n| `")); l++) {
        size_t bars = 0;
        for (const char *c = l + 1; *c && *c != '\n'; c++)
            bars += *c == '|';
        assert_int_equal(bars, 6);
        rows++;
    }
    assert_int_equal(rows, params_master.n);
    const char *ll = strstr(doc, "| `log_level` |");
    assert_non_null(ll);
    assert_non_null(strstr(ll, "debug"));
    free(doc);
}

static void test_getter_on_unknown_name_panics(void **state)
{
    /* A name that is not in the table is a programming error: the process aborts. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY); /* keep the expected panic line quiet */
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        params *p = params_new(&params_master);
        params_int(p, "no_such_parameter");
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_master),
        cmocka_unit_test(test_defaults_other_tables),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bools),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_ints),
        cmocka_unit_test(test_surrounding_whitespace_in_number),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_strings_one_line),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_dynamic_keys),
        cmocka_unit_test(test_load_text_good),
        cmocka_unit_test(test_load_text_errors),
        cmocka_unit_test(test_load_text_nul),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_unset),
        cmocka_unit_test(test_dup_independent),
        cmocka_unit_test(test_next_set_order),
        cmocka_unit_test(test_doc_lists_every_parameter),
        cmocka_unit_test(test_getter_on_unknown_name_panics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
