/* fuzz_milter.c - the milter's text builders: node/milter_text.c.
 *
 * The input is split at the first NUL into a header name and the rest; the rest
 * is used as a header value, an SMTP reply reason, a subject (with the name as
 * the prefix) and a socket name. Checked: rebuilt headers end in CRLF and hold no
 * bare CR or LF; reply texts are printable ASCII, bounded, with every '%' doubled;
 * header values hold no control bytes and stay within their limit; folded values
 * (DKIM-Signature) break lines only before white space; a prefixed subject starts
 * with the prefix. */
#include "fuzz.h"
#include "milter_text.h"

#include <string.h>

static void check_header(const char *name, const char *value)
{
    buf_t b = {0};
    milter_append_header(&b, name, value, value[0] == ' ');
    FUZZ_ASSERT(b.len >= 2 && memcmp(b.data + b.len - 2, "\r\n", 2) == 0);
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] == '\r')
            FUZZ_ASSERT(i + 1 < b.len && b.data[i + 1] == '\n');
        if (b.data[i] == '\n')
            FUZZ_ASSERT(i > 0 && b.data[i - 1] == '\r');
    }
    buf_free(&b);
}

static void check_reply(const char *in)
{
    char out[2 * MILTER_REPLY_MAX + 1];
    milter_reply_text(in, "fallback", out, sizeof out);
    size_t n = strlen(out);
    FUZZ_ASSERT(n > 0 && n <= 2 * MILTER_REPLY_MAX);
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(out[i] >= 32 && out[i] < 127);
        if (out[i] == '%') {
            FUZZ_ASSERT(i + 1 < n && out[i + 1] == '%');
            i++;
        }
    }
    char tiny[3];
    milter_reply_text(in, NULL, tiny, sizeof tiny);
    FUZZ_ASSERT(strlen(tiny) < sizeof tiny);
}

static void check_value(const char *in)
{
    char *v = milter_header_value(in, true);
    FUZZ_ASSERT(v[0] == ' ' && strlen(v) <= MILTER_VALUE_MAX + 1);
    for (const char *s = v; *s; s++)
        FUZZ_ASSERT((unsigned char)*s >= 32 && *s != 127);
    free(v);
}

/* A folded value (DKIM-Signature): every LF starts a continuation line (white space
 * follows), no CR, no other control byte; only white space in front disappears. */
static void check_folded(const char *in)
{
    char *v = milter_folded_value(in, true);
    if (!v) {
        FUZZ_ASSERT(strlen(in) > MILTER_FOLDED_MAX);
        return;
    }
    FUZZ_ASSERT(v[0] == ' ' &&
                (strlen(in) == 0 || v[1] != '\0' || strspn(in, " \t") == strlen(in)));
    for (const char *s = v; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            FUZZ_ASSERT(s[1] == ' ' || s[1] == '\t');
        else
            FUZZ_ASSERT((c >= 32 && c != 127) || c == '\t');
    }
    free(v);
}

static void check_subject(const char *prefix, const char *old)
{
    char *v = milter_subject(prefix, old, true);
    if (v) {
        char *p = milter_header_value(prefix, false);
        FUZZ_ASSERT(v[0] == ' ' && strncmp(v + 1, p, strlen(p)) == 0);
        free(p);
        free(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size);
    const char *name = s, *rest = s + strlen(s);
    if ((size_t)(rest - s) < size)
        rest = s + strlen(s) + 1;
    else
        rest = s;
    check_header(name, rest);
    check_reply(rest);
    check_value(rest);
    check_folded(rest);
    check_subject(name, rest);
    char spec[64];
    if (milter_conn_spec(rest, spec, sizeof spec))
        FUZZ_ASSERT(strlen(spec) < sizeof spec && strchr(spec, ':'));
    free(s);
    return 0;
}
