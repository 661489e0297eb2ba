/* dkimseal.c - sealing DKIM signing keys for the cluster configuration (libsodium).
 *
 * crypto_secretbox_easy with a fresh random nonce per value; the value is the nonce
 * followed by the box, base64 (libsodium's original variant, no line breaks) after
 * "enc:". Opening checks the Poly1305 tag, so a value sealed under another key or
 * changed in the database is refused rather than read as a broken key. Decrypted PEM
 * is kept in memory only as long as it takes to load it, and wiped. */
#include "dkimseal.h"
#include "util.h"

#include <sodium.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const uint8_t *process_key;

static void init_sodium(void)
{
    if (sodium_init() < 0)
        abort(); /* no entropy source: nothing can be sealed safely */
}

char *dkimseal_new_key_text(void)
{
    init_sodium();
    uint8_t k[DKIMSEAL_KEY_BYTES];
    randombytes_buf(k, sizeof k);
    size_t n = sodium_base64_ENCODED_LEN(sizeof k, sodium_base64_VARIANT_ORIGINAL);
    char *s = xmalloc(n + 1);
    sodium_bin2base64(s, n, k, sizeof k, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(k, sizeof k);
    strcat(s, "\n");
    return s;
}

bool dkimseal_load(const char *path, uint8_t key[DKIMSEAL_KEY_BYTES], char *err, size_t errlen)
{
    init_sodium();
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    if (st.st_mode & 0007) {
        snprintf(err, errlen, "%s: open to all users (mode %03o); chmod 600 or 640", path,
                 (unsigned)(st.st_mode & 0777));
        return false;
    }
    size_t len;
    char *text = file_read(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    size_t got = 0;
    const char *end;
    const char *b64 = str_trim(text);
    bool ok = sodium_base642bin(key, DKIMSEAL_KEY_BYTES, b64, strlen(b64), NULL, &got, &end,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              got == DKIMSEAL_KEY_BYTES && *end == '\0';
    sodium_memzero(text, len);
    free(text);
    if (!ok)
        snprintf(err, errlen, "%s: not a DKIM cluster key (base64 of 32 bytes)", path);
    return ok;
}

char *dkimseal_seal(const uint8_t key[DKIMSEAL_KEY_BYTES], const char *pem, size_t len)
{
    init_sodium();
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    uint8_t *box = xmalloc(blen);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const uint8_t *)pem, len, box, key);
    size_t n = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
    char *s = xmalloc(n + 4);
    memcpy(s, "enc:", 4);
    sodium_bin2base64(s + 4, n, box, blen, sodium_base64_VARIANT_ORIGINAL);
    free(box);
    return s;
}

bool dkimseal_is_sealed(const char *value)
{
    size_t n = strlen(value);
    if (n < 8 || n > DKIMSEAL_MAX || strncmp(value, "enc:", 4) != 0)
        return false;
    return strspn(value + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
           n - 4;
}

char *dkimseal_open(const uint8_t key[DKIMSEAL_KEY_BYTES], const char *value, size_t *len,
                    char *err, size_t errlen)
{
    init_sodium();
    if (!dkimseal_is_sealed(value)) {
        snprintf(err, errlen, "not a sealed key (enc:BASE64, from bulwarkctl dkim seal)");
        return NULL;
    }
    size_t vlen = strlen(value + 4), blen = 0;
    uint8_t *box = xmalloc(vlen);
    if (sodium_base642bin(box, vlen, value + 4, vlen, NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free(box);
        snprintf(err, errlen, "sealed key: bad base64 or too short");
        return NULL;
    }
    size_t plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *pem = xmalloc(plen + 1);
    if (crypto_secretbox_open_easy((uint8_t *)pem, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, key) != 0) {
        free(box);
        free(pem);
        snprintf(err, errlen,
                 "sealed key: does not open with this dkim_key_file (another "
                 "cluster key, or the value was changed)");
        return NULL;
    }
    free(box);
    pem[plen] = '\0';
    *len = plen;
    return pem;
}

void dkimseal_free(char *pem, size_t len)
{
    if (pem)
        sodium_memzero(pem, len);
    free(pem);
}

void dkimseal_process_set(const uint8_t *key)
{
    process_key = key;
}

const uint8_t *dkimseal_process(void)
{
    return process_key;
}
