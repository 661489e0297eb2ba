/* fuzz_hdr.c - hdr_parse(), hdr_get()/hdr_count() and hdr_parse_date().
 *
 * Any bytes are a raw message. The parser never fails, so the target checks what
 * the pipeline relies on: body_off within the input, names that are non-empty
 * printable ASCII without a colon, values without CR or LF, the field limit, and
 * flags that agree with the fields. Every field value goes through the date
 * parser; a short input is also tried as a date on its own, which reaches the
 * date grammar without needing a header around it. */
#include "fuzz.h"
#include "hdr.h"
#include "util.h"

#include <string.h>
#include <strings.h>

/* hdr_get/hdr_count are linear; querying every one of 4096 fields would make the
 * target quadratic, so only the first ones are looked up by their own name. */
#define LOOKUPS 64

static void check_field(const hdr_block *h, size_t i)
{
    const hdr_field *f = &h->f[i];
    size_t nlen = strlen(f->name);
    FUZZ_ASSERT(nlen > 0);
    for (size_t j = 0; j < nlen; j++)
        FUZZ_ASSERT(f->name[j] >= 33 && f->name[j] <= 126 && f->name[j] != ':');
    FUZZ_ASSERT(!strchr(f->value, '\r') && !strchr(f->value, '\n'));
    if (i < LOOKUPS) {
        const char *first = hdr_get(h, f->name);
        FUZZ_ASSERT(first != NULL);
        FUZZ_ASSERT(hdr_count(h, f->name) >= 1);
        if (first == f->value) /* it is the first of its name */
            for (size_t j = 0; j < i; j++)
                FUZZ_ASSERT(strcasecmp(h->f[j].name, f->name) != 0);
    }
    time_t when;
    hdr_parse_date(f->value, &when);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hdr_block *h = hdr_parse((const char *)data, size);
    FUZZ_ASSERT(h != NULL);
    FUZZ_ASSERT(h->body_off <= size);
    FUZZ_ASSERT(h->n <= HDR_MAX_FIELDS && h->n <= h->cap);
    FUZZ_ASSERT(((h->flags & HDR_EMPTY) != 0) == (h->n == 0));
    if (h->flags & HDR_NO_SEPARATOR)
        FUZZ_ASSERT(h->body_off == size);
    else /* after the empty line's LF, or at the end when that line is a lone CR */
        FUZZ_ASSERT(h->body_off == size || data[h->body_off - 1] == '\n');
    if (!(h->flags & HDR_NUL))
        FUZZ_ASSERT(!memchr(data, '\0', h->body_off));
    for (size_t i = 0; i < h->n; i++)
        check_field(h, i);
    FUZZ_ASSERT(hdr_count(h, "Date") == 0 || hdr_get(h, "Date") != NULL);
    hdr_destroy(&h);
    FUZZ_ASSERT(h == NULL);

    if (size < 256) {
        char *s = xstrndup((const char *)data, size);
        time_t when;
        hdr_parse_date(s, &when);
        free(s);
    }
    return 0;
}
