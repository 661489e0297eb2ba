/* fuzz_symbols.c - json_symbols_parse(), the reader of the message log's symbol list.
 *
 * Input: any bytes, as a stored `symbols` column could hold after damage or a
 * hand edit. A refusal must leave no symbols. An accepted list, written out again
 * with json_symbols_write(), must parse again with the same number of symbols, and
 * after that one normalisation (invalid UTF-8 becomes U+FFFD, numbers get six
 * significant digits) writing and reading must be a fixed point. */
#include "fuzz.h"
#include "json.h"
#include "util.h"

#include <string.h>

static char *write_out(const json_symbol *v, size_t n)
{
    buf_t b = {0};
    json_symbols_write(&b, v, n);
    return b.data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_symbol *v1 = NULL, *v2 = NULL, *v3 = NULL;
    size_t n1, n2, n3;
    if (!json_symbols_parse((const char *)data, size, &v1, &n1)) {
        FUZZ_ASSERT(v1 == NULL && n1 == 0);
        return 0;
    }
    char *w1 = write_out(v1, n1);
    FUZZ_ASSERT(json_symbols_parse(w1, strlen(w1), &v2, &n2) && n2 == n1);
    char *w2 = write_out(v2, n2);
    FUZZ_ASSERT(json_symbols_parse(w2, strlen(w2), &v3, &n3) && n3 == n1);
    char *w3 = write_out(v3, n3);
    FUZZ_ASSERT(strcmp(w2, w3) == 0);
    for (size_t i = 0; i < n1; i++)
        FUZZ_ASSERT(strcmp(v2[i].name, v3[i].name) == 0 && strcmp(v2[i].detail, v3[i].detail) == 0);
    json_symbols_free(&v1, n1);
    json_symbols_free(&v2, n2);
    json_symbols_free(&v3, n3);
    free(w1);
    free(w2);
    free(w3);
    return 0;
}
