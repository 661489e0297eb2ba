/* fuzz_dmarc.c - the DMARC record parser and the From-domain reader (node/dmarc.h).
 *
 * The same bytes are read three ways: as a _dmarc TXT record, as the value of a From
 * field, and as a raw message whose From field(s) give the domain. Neither reader does
 * DNS. The target checks what the check relies on: a parsed record has every tag in its
 * range and only well-formed rua addresses; a record that is not v=DMARC1 first never
 * parses; a From domain is a non-empty lower-case name of at most 253 characters
 * without empty labels. */
#include "dmarc.h"
#include "fuzz.h"
#include "hdr.h"
#include "util.h"

#include <ctype.h>
#include <string.h>

static void check_record(const uint8_t *data, size_t size)
{
    dmarc_record r;
    char err[200];
    bool ok = dmarc_record_parse((const char *)data, size, &r, err, sizeof err);
    FUZZ_ASSERT(strlen(err) < sizeof err);
    if (!ok)
        return;
    FUZZ_ASSERT(dmarc_is_record((const char *)data, size));
    FUZZ_ASSERT(r.p <= DMARC_POLICY_REJECT && r.sp <= DMARC_POLICY_REJECT &&
                r.np <= DMARC_POLICY_REJECT);
    FUZZ_ASSERT(r.sp_set || r.sp == r.p);
    FUZZ_ASSERT(r.pct <= 100);
    FUZZ_ASSERT(r.nrua <= DMARC_RUA_MAX);
    FUZZ_ASSERT(!r.p_fallback || (r.p == DMARC_POLICY_NONE && r.nrua > 0));
    for (size_t i = 0; i < r.nrua; i++) {
        const char *at = strrchr(r.rua[i], '@');
        FUZZ_ASSERT(at && at != r.rua[i] && at[1]);
        for (const char *c = r.rua[i]; *c; c++)
            FUZZ_ASSERT((unsigned char)*c > ' ' && *c != ',' && *c != 0x7f);
        for (const char *c = at + 1; *c; c++)
            FUZZ_ASSERT(!isupper((unsigned char)*c));
    }
    FUZZ_ASSERT(strlen(r.notes) < sizeof r.notes && strlen(r.fo) < sizeof r.fo);
}

static void check_domain(const char *d)
{
    size_t n = strlen(d);
    FUZZ_ASSERT(n > 0 && n <= 253);
    FUZZ_ASSERT(d[0] != '.' && d[n - 1] != '.' && !strstr(d, ".."));
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(!isupper((unsigned char)d[i]) && (unsigned char)d[i] > ' ');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_record(data, size);

    char d[DMARC_NAME_MAX], why[200];
    char *value = xstrndup((const char *)data, size);
    if (dmarc_from_value(value, d, sizeof d, why, sizeof why))
        check_domain(d);
    else
        FUZZ_ASSERT(why[0] && d[0] == '\0');
    free(value);

    hdr_block *h = hdr_parse((const char *)data, size);
    if (dmarc_from_domain(h, d, sizeof d, why, sizeof why)) {
        FUZZ_ASSERT(hdr_count(h, "From") == 1);
        check_domain(d);
    }
    hdr_destroy(&h);

    if (size < 300) { /* alignment of two names taken from the input */
        char a[DMARC_NAME_MAX], b[DMARC_NAME_MAX];
        size_t half = size / 2;
        snprintf(a, sizeof a, "%.*s", (int)half, (const char *)data);
        snprintf(b, sizeof b, "%.*s", (int)(size - half), (const char *)data + half);
        if (dmarc_aligned(a, b, true))
            FUZZ_ASSERT(dmarc_aligned(a, b, false));
    }
    return 0;
}
