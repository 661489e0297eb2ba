/* dkimseal.h - DKIM signing keys encrypted at rest in the cluster configuration.
 *
 * The configuration (MariaDB, every node, `config get`) holds a signing key only as
 * "enc:" + base64(nonce || secretbox(PEM)), libsodium's XSalsa20-Poly1305 under a
 * 32-byte cluster key. That key lives in a file given to the nodes (node parameter
 * dkim_key_file, read at start before privileges are dropped) and to whoever seals
 * keys with `bulwarkctl dkim seal`; the master never needs it. */
#ifndef BW_DKIMSEAL_H
#define BW_DKIMSEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DKIMSEAL_KEY_BYTES 32
#define DKIMSEAL_MAX 16384 /* longest sealed value accepted ("enc:..."), an 8192-bit PEM fits */

/* A new random cluster key as the text its file holds (base64 and a newline). */
char *dkimseal_new_key_text(void);
/* Reads a key file (base64 of 32 bytes, surrounding white space allowed). False with
 * a reason; a file others may read is refused. */
bool dkimseal_load(const char *path, uint8_t key[DKIMSEAL_KEY_BYTES], char *err, size_t errlen);
/* "enc:..." for a PEM (owned by the caller). */
char *dkimseal_seal(const uint8_t key[DKIMSEAL_KEY_BYTES], const char *pem, size_t len);
/* The PEM inside an "enc:..." value (owned by the caller, who wipes and frees it with
 * dkimseal_free), or NULL with a reason: not sealed, bad base64, wrong key or changed. */
char *dkimseal_open(const uint8_t key[DKIMSEAL_KEY_BYTES], const char *value, size_t *len,
                    char *err, size_t errlen);
void dkimseal_free(char *pem, size_t len);
/* Whether a configuration value has the sealed form (the master checks no more). */
bool dkimseal_is_sealed(const char *value);

/* The process's cluster key (bulwark-node's dkim_key_file); NULL when none. Set once
 * before the worker threads start. */
void dkimseal_process_set(const uint8_t *key);
const uint8_t *dkimseal_process(void);

#endif
