/* zap.h - the master's ZAP handler: which CURVE keys may talk to it.
 *
 * Every CURVE handshake on every master socket is put to this handler (ZeroMQ's
 * ZAP, RFC 27). A key on the allow-list with a role for that socket (the ZAP domain
 * names the socket) is accepted and its name becomes the connection's User-Id; any
 * other key is refused and the refusal logged. */
#ifndef BW_ZAP_H
#define BW_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zap zap;

/* Binds the handler in ctx; must be called before any CURVE server socket binds.
 * Dies if the allow-list cannot be read. */
zap *zap_new(void *ctx, const char *allow_path);
void zap_destroy(zap **z);
void *zap_socket(zap *z);
/* Answers every request waiting on the socket. */
void zap_handle(zap *z);
/* The roles of the allow-list entry `name` (a connection's User-Id); 0 if none. */
unsigned zap_roles(const zap *z, const char *name);
/* Re-reads the allow-list; keeps the old one on error. */
bool zap_reload(zap *z, char *err, size_t errlen);
uint64_t zap_refused(const zap *z);

#endif
