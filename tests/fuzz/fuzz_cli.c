/* fuzz_cli.c - cli_parse_time(), cli_csv_field() and cli_parse_uint() on any text.
 *
 * Input: a command-line argument (bytes up to the first NUL). A time that is
 * accepted must be a relative age (at most "now") or an absolute time before the
 * year 10000, and parsing is deterministic; a refusal explains itself. The CSV
 * field made from the text must read back, with RFC 4180's rules, as exactly the
 * text, and must be quoted whenever the text holds a comma, quote, CR or LF. */
#include "cli.h"
#include "fuzz.h"
#include "util.h"

#include <string.h>

#define NOW 1795500000000ull
#define YEAR_10000_MS 253402300800000ull

/* Reads one RFC 4180 field back; NULL if it is not one well-formed field. */
static char *csv_read(const char *f, size_t n)
{
    if (!n || f[0] != '"') {
        for (size_t i = 0; i < n; i++)
            if (strchr(",\"\r\n", f[i]))
                return NULL;
        return xstrndup(f, n);
    }
    buf_t b = {0};
    buf_puts(&b, "");
    size_t i = 1;
    for (; i < n; i++) {
        if (f[i] != '"') {
            buf_append(&b, &f[i], 1);
            continue;
        }
        if (i + 1 < n && f[i + 1] == '"') {
            buf_append(&b, "\"", 1);
            i++;
            continue;
        }
        break; /* the closing quote */
    }
    if (i != n - 1) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

static void check_time(const char *s)
{
    char err[512] = "";
    uint64_t a = 1, b = 2;
    bool ok = cli_parse_time(s, NOW, &a, err, sizeof err);
    if (!ok) {
        FUZZ_ASSERT(strstr(err, "is not a time") != NULL);
        return;
    }
    FUZZ_ASSERT(cli_parse_time(s, NOW, &b, err, sizeof err) && a == b);
    FUZZ_ASSERT(a < YEAR_10000_MS);
    if (s[0] && strchr("smhdw", s[strlen(s) - 1]))
        FUZZ_ASSERT(a <= NOW);
    else
        FUZZ_ASSERT(a % 1000 == 0);
}

static void check_csv(const char *s)
{
    buf_t b = {0};
    buf_puts(&b, "");
    cli_csv_field(&b, s);
    char *back = csv_read(b.data, b.len);
    FUZZ_ASSERT(back != NULL);
    FUZZ_ASSERT(strcmp(back, s) == 0);
    if (strpbrk(s, ",\"\r\n"))
        FUZZ_ASSERT(b.data[0] == '"');
    free(back);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size);
    check_time(s);
    check_csv(s);
    uint64_t v;
    if (cli_parse_uint(s, 0, UINT64_MAX, &v)) {
        char back[32];
        snprintf(back, sizeof back, "%llu", (unsigned long long)v);
        FUZZ_ASSERT(strcmp(back, s) == 0 || (s[0] == '0' && strlen(s) > 1));
    }
    free(s);
    return 0;
}
