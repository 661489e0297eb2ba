/* keys.h - CURVE key files and the master's allow-list.
 *
 * A key file (`bulwarkctl keygen NAME`) is `name = ...`, `public = Z85`, and in
 * the secret file also `secret = Z85`. The allow-list is one `NAME PUBLICKEY ROLES`
 * per line ('#' comments); names and keys are unique. Names identify peers in logs,
 * the audit trail and `bulwarkctl status`; roles say which master sockets a key may
 * use and whether it may change the configuration. */
#ifndef BW_KEYS_H
#define BW_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char name[65];
    char public_z85[41];
    char secret_z85[41]; /* empty when only the public half was loaded */
} curve_key;

bool key_generate(const char *name, curve_key *k, char *err, size_t errlen);
/* Loads a .key or .pub file. Errors read "FILE:LINE: reason" (or "FILE: reason"). */
bool key_load(const char *path, curve_key *k, char *err, size_t errlen);
/* The same over text already in memory (len bytes, need not be NUL-terminated);
 * `origin` stands for FILE in errors. A NUL byte in the text is an error. */
bool key_parse(const char *origin, const char *text, size_t len, curve_key *k, char *err,
               size_t errlen);
/* key_load() of a file that must hold the secret half too. */
bool key_load_secret(const char *path, curve_key *k, char *err, size_t errlen);
/* What every client of the master loads: its own key pair and the server's public key. */
bool key_load_client(const char *secret_path, const char *server_path, curve_key *mine,
                     curve_key *server, char *err, size_t errlen);
/* Writes DIR/NAME.key (mode 0600, both halves) and DIR/NAME.pub. */
bool key_write(const char *dir, const curve_key *k, char *err, size_t errlen);
/* True if s is a valid key name: 1-64 of [A-Za-z0-9._-]. */
bool key_name_valid(const char *s);

/* What a key may do. node: take jobs, follow the config bus (worker, publish and
 * snapshot sockets). client: submit scans, read status and configuration (client
 * socket). admin: client, and change the configuration. */
enum { ROLE_NODE = 1, ROLE_CLIENT = 2, ROLE_ADMIN = 4 };
/* Parses "node", "client", "admin" or a comma list of them; admin implies client. */
bool key_roles_parse(const char *s, unsigned *roles);
/* Writes roles back as text, e.g. "node,admin". */
void key_roles_format(unsigned roles, char *out, size_t n);

typedef struct allowlist allowlist;

/* Reads an allow-list file; NULL with "FILE:LINE: reason" in err on the first bad line. */
allowlist *allowlist_load(const char *path, char *err, size_t errlen);
/* The same over text in memory (len bytes); `origin` stands for FILE in errors. */
allowlist *allowlist_parse(const char *origin, const char *text, size_t len, char *err,
                           size_t errlen);
void allowlist_destroy(allowlist **al);
/* The name a 32-byte public key is allowed under, or NULL; *roles (if not NULL)
 * gets its roles. */
const char *allowlist_find(const allowlist *al, const uint8_t key[32], unsigned *roles);
/* The roles of the key listed under `name`; 0 if there is none. */
unsigned allowlist_roles(const allowlist *al, const char *name);
size_t allowlist_size(const allowlist *al);

#endif
