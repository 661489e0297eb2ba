/* keys.c - reads and writes CURVE key files and the allow-list.
 *
 * Keys are 32 bytes, written as 40 Z85 characters (ZeroMQ's zmq_z85_encode).
 * The files reuse the `key = value` syntax of every other Bulwark file, but are
 * parsed here with a fixed set of fields so a key file cannot carry anything else. */
#include "keys.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct allowlist {
    size_t n;
    struct {
        uint8_t key[32];
        char name[65];
        unsigned roles;
    } * e;
};

bool key_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
            return false;
    return true;
}

static bool z85_ok(const char *z)
{
    uint8_t tmp[32];
    return strlen(z) == 40 && zmq_z85_decode(tmp, z) != NULL;
}

bool key_generate(const char *name, curve_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    if (!key_name_valid(name)) {
        snprintf(err, errlen, "bad key name '%s': use 1-64 letters, digits, '.', '_' or '-'", name);
        return false;
    }
    if (zmq_curve_keypair(k->public_z85, k->secret_z85) != 0) {
        snprintf(err, errlen, "zmq_curve_keypair: %s (libzmq built without CURVE?)",
                 zmq_strerror(zmq_errno()));
        return false;
    }
    snprintf(k->name, sizeof k->name, "%s", name);
    return true;
}

/* One trimmed, non-comment line of a key file: `name`, `public` or `secret`. */
static bool key_field(const char *origin, int lineno, char *l, curve_key *k, char *err,
                      size_t errlen)
{
    char *eq = strchr(l, '=');
    if (!eq) {
        snprintf(err, errlen, "%s:%d: expected 'name = value'", origin, lineno);
        return false;
    }
    *eq = '\0';
    char *key = str_trim(l), *val = str_trim(eq + 1);
    if (strcmp(key, "name") == 0 && key_name_valid(val)) {
        snprintf(k->name, sizeof k->name, "%s", val);
    } else if (strcmp(key, "public") == 0 && z85_ok(val)) {
        memcpy(k->public_z85, val, 41);
    } else if (strcmp(key, "secret") == 0 && z85_ok(val)) {
        memcpy(k->secret_z85, val, 41);
    } else {
        snprintf(err, errlen, "%s:%d: bad or unknown field '%s'", origin, lineno, key);
        return false;
    }
    return true;
}

/* The next line of text[*off, len) as a new string without its LF, or NULL at the
 * end. Empty lines count, so line numbers in errors match what an editor shows;
 * *nul is set when the line holds a NUL byte, which would silently cut it short. */
static char *next_line(const char *text, size_t len, size_t *off, bool *nul)
{
    if (*off >= len)
        return NULL;
    const char *s = text + *off, *nl = memchr(s, '\n', len - *off);
    size_t n = nl ? (size_t)(nl - s) : len - *off;
    *off += n + (nl != NULL);
    char *line = xstrndup(s, n);
    *nul = strlen(line) != n;
    return line;
}

bool key_load(const char *path, curve_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    size_t len;
    char *text = file_read(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read key file: %s", path, strerror(errno));
        return false;
    }
    bool ok = key_parse(path, text, len, k, err, errlen);
    free(text);
    return ok;
}

bool key_parse(const char *origin, const char *text, size_t len, curve_key *k, char *err,
               size_t errlen)
{
    memset(k, 0, sizeof *k);
    bool ok = true, nul;
    size_t off = 0;
    char *line;
    for (int lineno = 1; ok && (line = next_line(text, len, &off, &nul)); lineno++) {
        char *l = str_trim(line);
        if (nul) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", origin, lineno);
            ok = false;
        } else if (*l && *l != '#') {
            ok = key_field(origin, lineno, l, k, err, errlen);
        }
        free(line);
    }
    if (ok && !k->public_z85[0]) {
        snprintf(err, errlen, "%s: no 'public' key in file", origin);
        ok = false;
    }
    if (ok && k->secret_z85[0]) {
        char derived[41];
        if (zmq_curve_public(derived, k->secret_z85) != 0 || strcmp(derived, k->public_z85) != 0) {
            snprintf(err, errlen, "%s: public and secret keys do not belong together", origin);
            ok = false;
        }
    }
    if (!ok)
        memset(k, 0, sizeof *k);
    return ok;
}

bool key_load_secret(const char *path, curve_key *k, char *err, size_t errlen)
{
    if (!key_load(path, k, err, errlen))
        return false;
    if (!k->secret_z85[0]) {
        snprintf(err, errlen, "%s holds no secret key", path);
        return false;
    }
    return true;
}

bool key_load_client(const char *secret_path, const char *server_path, curve_key *mine,
                     curve_key *server, char *err, size_t errlen)
{
    return key_load_secret(secret_path, mine, err, errlen) &&
           key_load(server_path, server, err, errlen);
}

static bool write_file(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return false;
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}

bool key_write(const char *dir, const curve_key *k, char *err, size_t errlen)
{
    char path[4096], text[512];
    snprintf(text, sizeof text,
             "# Bulwark CURVE key pair '%s'. SECRET: keep this file mode 0600.\n"
             "name = %s\npublic = %s\nsecret = %s\n",
             k->name, k->name, k->public_z85, k->secret_z85);
    snprintf(path, sizeof path, "%s/%s.key", dir, k->name);
    if (!write_file(path, text, 0600, err, errlen))
        return false;
    snprintf(text, sizeof text,
             "# Bulwark CURVE public key '%s'.\n"
             "# Allow-list line: %s %s ROLES (node, client or admin)\nname = %s\npublic = %s\n",
             k->name, k->name, k->public_z85, k->name, k->public_z85);
    snprintf(path, sizeof path, "%s/%s.pub", dir, k->name);
    return write_file(path, text, 0644, err, errlen);
}

allowlist *allowlist_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = file_read(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read allow-list: %s", path, strerror(errno));
        return NULL;
    }
    allowlist *al = allowlist_parse(path, text, len, err, errlen);
    free(text);
    return al;
}

allowlist *allowlist_parse(const char *origin, const char *text, size_t len, char *err,
                           size_t errlen)
{
    allowlist *al = xcalloc(1, sizeof *al);
    size_t off = 0;
    bool nul;
    char *line;
    for (int lineno = 1; (line = next_line(text, len, &off, &nul)); lineno++) {
        char *l = str_trim(line);
        if (nul) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", origin, lineno);
            free(line);
            allowlist_destroy(&al);
            return NULL;
        }
        if (!*l || *l == '#') {
            free(line);
            continue;
        }
        char name[128], key[128], roles[128], extra[8];
        int n = sscanf(l, "%127s %127s %127s %7s", name, key, roles, extra);
        free(line);
        uint8_t raw[32];
        unsigned r = 0;
        const char *why = NULL;
        if (n < 2 || !key_name_valid(name) || strlen(key) != 40 || !zmq_z85_decode(raw, key))
            why = "expected 'NAME PUBLICKEY ROLES' (key: 40 Z85 characters)";
        else if (n != 3 || !key_roles_parse(roles, &r))
            why = "expected ROLES after the key: node, client or admin, comma-separated";
        for (size_t i = 0; !why && i < al->n; i++) {
            if (strcmp(al->e[i].name, name) == 0)
                why = "name already on the list";
            else if (memcmp(al->e[i].key, raw, 32) == 0)
                why = "key already on the list under another name";
        }
        if (why) {
            snprintf(err, errlen, "%s:%d: %s", origin, lineno, why);
            allowlist_destroy(&al);
            return NULL;
        }
        al->e = xrealloc(al->e, (al->n + 1) * sizeof *al->e);
        memcpy(al->e[al->n].key, raw, 32);
        memcpy(al->e[al->n].name, name, strlen(name) + 1); /* key_name_valid: <= 64 */
        al->e[al->n].roles = r;
        al->n++;
    }
    return al;
}

void allowlist_destroy(allowlist **alp)
{
    if (!*alp)
        return;
    free((*alp)->e);
    free(*alp);
    *alp = NULL;
}

const char *allowlist_find(const allowlist *al, const uint8_t key[32], unsigned *roles)
{
    for (size_t i = 0; al && i < al->n; i++) {
        if (memcmp(al->e[i].key, key, 32) == 0) {
            if (roles)
                *roles = al->e[i].roles;
            return al->e[i].name;
        }
    }
    return NULL;
}

unsigned allowlist_roles(const allowlist *al, const char *name)
{
    for (size_t i = 0; al && i < al->n; i++)
        if (strcmp(al->e[i].name, name) == 0)
            return al->e[i].roles;
    return 0;
}

bool key_roles_parse(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {{"node", ROLE_NODE}, {"client", ROLE_CLIENT}, {"admin", ROLE_ADMIN | ROLE_CLIENT}};
    *out = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        bool known = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strlen(names[i].name) == n && strncmp(s, names[i].name, n) == 0) {
                *out |= names[i].bits;
                known = true;
            }
        }
        if (!known)
            return false;
        s += n;
        if (*s == ',' && *++s == '\0')
            return false; /* trailing comma */
    }
    return *out != 0;
}

void key_roles_format(unsigned roles, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", roles & ROLE_NODE ? "node" : "",
             roles & ROLE_NODE && roles & (ROLE_CLIENT | ROLE_ADMIN) ? "," : "",
             roles & ROLE_ADMIN    ? "admin"
             : roles & ROLE_CLIENT ? "client"
                                   : "");
}

size_t allowlist_size(const allowlist *al)
{
    return al ? al->n : 0;
}
