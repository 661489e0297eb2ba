/* fuzz_keys.c - key files (key_parse) and the allow-list (allowlist_parse).
 *
 * The same bytes go to both parsers; the text is handed over with its length and
 * no terminating NUL, so ASan catches any read past the end. A refusal must name
 * the origin and, when it gives a line, a line that exists in the text (empty
 * lines count). An accepted key has a valid public half, a valid or empty name,
 * and, if it has a secret half, the public key derived from it. */
#include "fuzz.h"
#include "keys.h"
#include "util.h"

#include <string.h>
#include <zmq.h>

static size_t count_lines(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n + (len && text[len - 1] != '\n');
}

static void check_error(const char *err, const char *text, size_t len)
{
    FUZZ_ASSERT(strncmp(err, "fuzz:", 5) == 0);
    char *end;
    unsigned long line = strtoul(err + 5, &end, 10);
    if (end == err + 5)
        return; /* "fuzz: reason" about the whole file */
    FUZZ_ASSERT(*end == ':');
    FUZZ_ASSERT(line >= 1 && line <= count_lines(text, len));
}

static void check_key(const curve_key *k)
{
    uint8_t raw[32];
    FUZZ_ASSERT(strlen(k->public_z85) == 40 && zmq_z85_decode(raw, k->public_z85));
    FUZZ_ASSERT(!k->name[0] || key_name_valid(k->name));
    if (k->secret_z85[0]) {
        char derived[41];
        FUZZ_ASSERT(zmq_curve_public(derived, k->secret_z85) == 0);
        FUZZ_ASSERT(strcmp(derived, k->public_z85) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: a parser that relies on a NUL after the text overflows it. */
    char *text = xmalloc(size);
    memcpy(text, data, size);

    curve_key k;
    char err[512] = "";
    if (key_parse("fuzz", text, size, &k, err, sizeof err))
        check_key(&k);
    else
        check_error(err, text, size);

    err[0] = '\0';
    allowlist *al = allowlist_parse("fuzz", text, size, err, sizeof err);
    if (al) {
        uint8_t zero[32] = {0};
        unsigned roles = 0;
        const char *name = allowlist_find(al, zero, &roles);
        FUZZ_ASSERT(!name || (roles & (ROLE_NODE | ROLE_CLIENT)) != 0);
        allowlist_destroy(&al);
        FUZZ_ASSERT(al == NULL);
    } else {
        check_error(err, text, size);
    }
    free(text);
    return 0;
}
