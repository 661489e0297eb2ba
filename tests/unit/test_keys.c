/* test_keys.c - unit tests for shared/keys.c.
 *
 * Covers key names, key_generate (a real CURVE pair whose halves belong
 * together), key_write/key_load round trips in a mkdtemp directory with the file
 * modes (0600 for .key, 0644 for .pub), refusal of a secret that does not match
 * the public key, of bad or unknown fields and lines with "FILE:LINE: reason"
 * (blank and comment lines counted), and the allow-list: load, find by raw key,
 * bad lines with FILE:LINE, empty and missing files. */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

static char dir[64];

static int make_dir(void **state)
{
    umask(022); /* so the .pub mode is predictable */
    snprintf(dir, sizeof dir, "/tmp/bw-keys-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(dir);
}

static const char *path_of(const char *name)
{
    static char path[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
    return path[i];
}

static const char *write_text(const char *name, const char *text)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return p;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void gen(const char *name, curve_key *k)
{
    char err[256] = "";
    if (!key_generate(name, k, err, sizeof err))
        fail_msg("key_generate(%s): %s", name, err);
}

/* ---- names and generation ---------------------------------------------------- */

static void test_name_valid(void **state)
{
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'a', 65);
    n65[65] = '\0';
    assert_true(key_name_valid("node-1"));
    assert_true(key_name_valid("a.b_c-D9"));
    assert_true(key_name_valid("x"));
    assert_true(key_name_valid(n64));
    assert_false(key_name_valid(n65));
    assert_false(key_name_valid(""));
    assert_false(key_name_valid("a b"));
    assert_false(key_name_valid("a/b"));
    assert_false(key_name_valid("../etc"));
    assert_false(key_name_valid("caf\xc3\xa9"));
    assert_false(key_name_valid("a\tb"));
}

static void test_generate(void **state)
{
    curve_key a, b;
    gen("node1", &a);
    gen("node1", &b);
    assert_string_equal(a.name, "node1");
    assert_int_equal(strlen(a.public_z85), 40);
    assert_int_equal(strlen(a.secret_z85), 40);
    char derived[41];
    assert_int_equal(zmq_curve_public(derived, a.secret_z85), 0);
    assert_string_equal(derived, a.public_z85);
    assert_string_not_equal(a.public_z85, b.public_z85); /* fresh randomness each time */

    char err[256];
    curve_key c;
    assert_false(key_generate("bad name", &c, err, sizeof err));
    assert_string_equal(err, "bad key name 'bad name': use 1-64 letters, digits, '.', '_' or '-'");
    assert_string_equal(c.name, "");
    assert_string_equal(c.secret_z85, "");
}

/* ---- write and load ------------------------------------------------------------ */

static void test_write_load_round_trip(void **state)
{
    curve_key k, got;
    char err[512] = "";
    gen("master", &k);
    assert_true(key_write(dir, &k, err, sizeof err));
    assert_int_equal(mode_of(path_of("master.key")), 0600);
    assert_int_equal(mode_of(path_of("master.pub")), 0644);
    assert_int_equal(access(path_of("master.key.tmp"), F_OK), -1); /* no leftovers */
    assert_int_equal(access(path_of("master.pub.tmp"), F_OK), -1);

    assert_true(key_load(path_of("master.key"), &got, err, sizeof err));
    assert_string_equal(got.name, "master");
    assert_string_equal(got.public_z85, k.public_z85);
    assert_string_equal(got.secret_z85, k.secret_z85);

    assert_true(key_load(path_of("master.pub"), &got, err, sizeof err));
    assert_string_equal(got.name, "master");
    assert_string_equal(got.public_z85, k.public_z85);
    assert_string_equal(got.secret_z85, ""); /* only the public half */

    /* The .pub file shows the allow-list line to paste. */
    FILE *f = fopen(path_of("master.pub"), "r");
    assert_non_null(f);
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char want[128];
    snprintf(want, sizeof want, "# Allow-list line: master %s ROLES (node, client or admin)\n",
             k.public_z85);
    assert_non_null(strstr(text, want));
    assert_null(strstr(text, k.secret_z85)); /* and never the secret */
}

static void test_write_replaces_with_safe_mode(void **state)
{
    /* A key file left world-readable is replaced by one with mode 0600. */
    const char *p = write_text("old.key", "stale\n");
    assert_int_equal(chmod(p, 0644), 0);
    curve_key k;
    char err[512];
    gen("old", &k);
    assert_true(key_write(dir, &k, err, sizeof err));
    assert_int_equal(mode_of(p), 0600);
    curve_key got;
    assert_true(key_load(p, &got, err, sizeof err));
    assert_string_equal(got.secret_z85, k.secret_z85);
}

static void test_write_to_missing_dir(void **state)
{
    curve_key k;
    char err[512] = "", nodir[128];
    gen("x", &k);
    snprintf(nodir, sizeof nodir, "%s/no/such/dir", dir);
    assert_false(key_write(nodir, &k, err, sizeof err));
    assert_non_null(strstr(err, nodir));
    assert_non_null(strstr(err, strerror(ENOENT)));
}

static void test_load_crlf_and_comments(void **state)
{
    curve_key k, got;
    char text[512], err[256];
    gen("crlf", &k);
    snprintf(text, sizeof text,
             "# comment\r\n\r\n  name =  crlf  \r\npublic=%s\r\n\tsecret = %s\r\n# end\r\n",
             k.public_z85, k.secret_z85);
    assert_true(key_load(write_text("crlf.key", text), &got, err, sizeof err));
    assert_string_equal(got.name, "crlf");
    assert_string_equal(got.secret_z85, k.secret_z85);
}

static void test_mismatched_halves_refused(void **state)
{
    curve_key a, b, got;
    char text[512], err[512], want[512];
    gen("a", &a);
    gen("b", &b);
    snprintf(text, sizeof text, "name = a\npublic = %s\nsecret = %s\n", a.public_z85, b.secret_z85);
    const char *p = write_text("mixed.key", text);
    assert_false(key_load(p, &got, err, sizeof err));
    snprintf(want, sizeof want, "%s: public and secret keys do not belong together", p);
    assert_string_equal(err, want);
    /* Nothing half-loaded is left for a careless caller. */
    assert_string_equal(got.name, "");
    assert_string_equal(got.public_z85, "");
    assert_string_equal(got.secret_z85, "");
}

/* Loads `text` as a key file and checks the error is "PATH<suffix>". */
static void load_refused(const char *text, const char *suffix)
{
    curve_key got;
    char err[512], want[512];
    const char *p = write_text("bad.key", text);
    assert_false(key_load(p, &got, err, sizeof err));
    snprintf(want, sizeof want, "%s%s", p, suffix);
    assert_string_equal(err, want);
    assert_string_equal(got.public_z85, "");
}

static void test_bad_fields_refused(void **state)
{
    curve_key k;
    char text[512];
    gen("k", &k);

    snprintf(text, sizeof text, "name = k\npublic = %s\nfoo = bar\n", k.public_z85);
    load_refused(text, ":3: bad or unknown field 'foo'");
    /* Blank and comment lines count: the number is what an editor shows. */
    snprintf(text, sizeof text, "# key\n\nname = k\n\n# x\npublic = %s\nowner = me\n",
             k.public_z85);
    load_refused(text, ":7: bad or unknown field 'owner'");
    load_refused("public = tooshort\n", ":1: bad or unknown field 'public'");
    /* 40 characters, but not Z85 ('"' is outside the alphabet). */
    char q40[41];
    memset(q40, '"', 40);
    q40[40] = '\0';
    snprintf(text, sizeof text, "public = %s\n", q40);
    load_refused(text, ":1: bad or unknown field 'public'");
    snprintf(text, sizeof text, "public = %sA\n", k.public_z85); /* 41 characters */
    load_refused(text, ":1: bad or unknown field 'public'");
    snprintf(text, sizeof text, "name = bad name\npublic = %s\n", k.public_z85);
    load_refused(text, ":1: bad or unknown field 'name'");
    snprintf(text, sizeof text, "public = %s\nsecret = nope\n", k.public_z85);
    load_refused(text, ":2: bad or unknown field 'secret'");
    snprintf(text, sizeof text, "Public = %s\n", k.public_z85); /* field names are exact */
    load_refused(text, ":1: bad or unknown field 'Public'");
    load_refused("name = k\njust words\n", ":2: expected 'name = value'");
    load_refused("name = k\n", ": no 'public' key in file");
    load_refused("", ": no 'public' key in file");
    load_refused("# only a comment\n", ": no 'public' key in file");
}

static void test_load_missing_file(void **state)
{
    curve_key got;
    char err[512], want[512];
    const char *p = path_of("absent.key");
    assert_false(key_load(p, &got, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot read key file: %s", p, strerror(ENOENT));
    assert_string_equal(err, want);
}

/* ---- allow-list ---------------------------------------------------------------- */

static void test_allowlist_load_find(void **state)
{
    curve_key a, b, c;
    gen("node-a", &a);
    gen("ctl.admin", &b);
    gen("stranger", &c);
    char text[1024], err[256] = "";
    snprintf(text, sizeof text,
             "# Bulwark allow-list\n"
             "\n"
             "node-a %s node\n"
             "   ctl.admin\t%s   admin\r\n"
             "# trailing comment\n",
             a.public_z85, b.public_z85);
    allowlist *al = allowlist_load(write_text("allowed", text), err, sizeof err);
    assert_non_null(al);
    assert_int_equal(allowlist_size(al), 2);

    uint8_t raw[32];
    assert_non_null(zmq_z85_decode(raw, a.public_z85));
    unsigned roles = 0;
    assert_string_equal(allowlist_find(al, raw, &roles), "node-a");
    assert_int_equal(roles, ROLE_NODE);
    assert_non_null(zmq_z85_decode(raw, b.public_z85));
    assert_string_equal(allowlist_find(al, raw, &roles), "ctl.admin");
    assert_int_equal(roles, ROLE_ADMIN | ROLE_CLIENT); /* admin implies client */
    assert_int_equal(allowlist_roles(al, "ctl.admin"), ROLE_ADMIN | ROLE_CLIENT);
    assert_int_equal(allowlist_roles(al, "node-a"), ROLE_NODE);
    assert_int_equal(allowlist_roles(al, "stranger"), 0);
    assert_non_null(zmq_z85_decode(raw, c.public_z85));
    assert_null(allowlist_find(al, raw, NULL));
    raw[0] ^= 1;
    assert_null(allowlist_find(al, raw, &roles));

    allowlist_destroy(&al);
    assert_null(al);
    allowlist_destroy(&al); /* NULL: no-op */
    assert_null(allowlist_find(NULL, raw, NULL));
    assert_int_equal(allowlist_size(NULL), 0);
}

static void test_allowlist_empty(void **state)
{
    char err[256];
    allowlist *al = allowlist_load(write_text("empty", "# nobody yet\n\n"), err, sizeof err);
    assert_non_null(al);
    assert_int_equal(allowlist_size(al), 0);
    uint8_t raw[32] = {0};
    assert_null(allowlist_find(al, raw, NULL));
    allowlist_destroy(&al);
}

#define KEY_ERR "expected 'NAME PUBLICKEY ROLES' (key: 40 Z85 characters)"
#define ROLE_ERR "expected ROLES after the key: node, client or admin, comma-separated"

static void allow_refused(const char *text, int line, const char *why)
{
    char err[512] = "", want[512];
    const char *p = write_text("bad-allow", text);
    assert_null(allowlist_load(p, err, sizeof err));
    snprintf(want, sizeof want, "%s:%d: %s", p, line, why);
    assert_string_equal(err, want);
}

static void test_roles_parse(void **state)
{
    (void)state;
    unsigned r;
    assert_true(key_roles_parse("node", &r));
    assert_int_equal(r, ROLE_NODE);
    assert_true(key_roles_parse("client", &r));
    assert_int_equal(r, ROLE_CLIENT);
    assert_true(key_roles_parse("admin", &r));
    assert_int_equal(r, ROLE_ADMIN | ROLE_CLIENT);
    assert_true(key_roles_parse("node,admin", &r));
    assert_int_equal(r, ROLE_NODE | ROLE_ADMIN | ROLE_CLIENT);
    char text[32];
    key_roles_format(r, text, sizeof text);
    assert_string_equal(text, "node,admin");
    key_roles_format(ROLE_CLIENT, text, sizeof text);
    assert_string_equal(text, "client");
    const char *bad[] = {"", "root", "node,", ",node", "node,,client", "Node", "node client"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(key_roles_parse(bad[i], &r));
}

static void test_allowlist_bad_lines(void **state)
{
    curve_key k;
    gen("n", &k);
    char text[1024];
    curve_key k2;
    gen("m", &k2);
    snprintf(text, sizeof text, "good %s node\nlonely\n", k.public_z85);
    allow_refused(text, 2, KEY_ERR);
    snprintf(text, sizeof text, "# c\n\ngood %s node\nn %s node extra\n", k.public_z85,
             k2.public_z85);
    allow_refused(text, 4, ROLE_ERR);
    snprintf(text, sizeof text, "n %s\n", k.public_z85); /* no role */
    allow_refused(text, 1, ROLE_ERR);
    snprintf(text, sizeof text, "n %s superuser\n", k.public_z85);
    allow_refused(text, 1, ROLE_ERR);
    snprintf(text, sizeof text, "bad/name %s node\n", k.public_z85);
    allow_refused(text, 1, KEY_ERR);
    snprintf(text, sizeof text, "n %.39s node\n", k.public_z85); /* 39 characters */
    allow_refused(text, 1, KEY_ERR);
    snprintf(text, sizeof text, "n %s node\nm %s= node\n", k.public_z85, k.public_z85);
    allow_refused(text, 2, KEY_ERR);
    snprintf(text, sizeof text, "n %s node\nn %s client\n", k.public_z85, k2.public_z85);
    allow_refused(text, 2, "name already on the list");
    snprintf(text, sizeof text, "n %s node\nm %s client\n", k.public_z85, k.public_z85);
    allow_refused(text, 2, "key already on the list under another name");
    char q40[41];
    memset(q40, '"', 40);
    q40[40] = '\0';
    snprintf(text, sizeof text, "n %s node\n", q40); /* 40 characters, not Z85 */
    allow_refused(text, 1, KEY_ERR);
    snprintf(text, sizeof text, "name = n\npublic = %s\n", k.public_z85); /* a key file */
    allow_refused(text, 1, KEY_ERR);

    char err[512], want[512];
    const char *p = path_of("no-such-allow");
    assert_null(allowlist_load(p, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot read allow-list: %s", p, strerror(ENOENT));
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_roles_parse),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_write_load_round_trip),
        cmocka_unit_test(test_write_replaces_with_safe_mode),
        cmocka_unit_test(test_write_to_missing_dir),
        cmocka_unit_test(test_load_crlf_and_comments),
        cmocka_unit_test(test_mismatched_halves_refused),
        cmocka_unit_test(test_bad_fields_refused),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_allowlist_load_find),
        cmocka_unit_test(test_allowlist_empty),
        cmocka_unit_test(test_allowlist_bad_lines),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
