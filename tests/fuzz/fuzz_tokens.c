/* fuzz_tokens.c - the Bayes tokenizer (node/tokens.c) on arbitrary bytes.
 *
 * Each input is a raw message: it is parsed (msg_parse, hdr_parse) and tokenized as
 * the bayes check and `bulwarkctl learn` do. Invariants: the set is sorted and
 * distinct, never larger than the cap, empty exactly when NULL is returned; the same
 * input gives the same set (learned counts depend on it); a smaller cap gives the
 * first tokens of the full set (learning and classifying keep the same sample); the
 * message alone and the headers alone each give subsets of the whole. The OSB window
 * (0, 2..5) comes from the first byte's value, so every pair path runs: with pairs the
 * set holds the single words' set (below the cap), and is deterministic too. */
#include "fuzz.h"
#include "hdr.h"
#include "log.h"
#include "message.h"
#include "tokens.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_tokens");
    log_set_level(LOG_ERROR);
    return 0;
}

static void check_set(const uint64_t *v, size_t n, size_t max)
{
    FUZZ_ASSERT((v == NULL) == (n == 0));
    FUZZ_ASSERT(n <= max);
    for (size_t i = 1; i < n; i++)
        FUZZ_ASSERT(v[i - 1] < v[i]);
}

/* Every token of a (sorted) is in b (sorted). */
static int subset(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t j = 0;
    for (size_t i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i])
            j++;
        if (j == nb || b[j] != a[i])
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned windows[] = {0, 2, 3, 4, 5, 7}; /* 7: clamped to TOK_OSB_MAX */
    unsigned w = size ? windows[data[0] % 6] : 0;
    msg_model *m = msg_parse(data, size);
    hdr_block *h = hdr_parse((const char *)data, size);
    size_t n, n2, ncap, nm, nh;
    uint64_t *v = tok_extract(m, h, 0, w, &n);
    check_set(v, n, TOK_MAX_DEFAULT);
    uint64_t *again = tok_extract(m, h, 0, w, &n2);
    FUZZ_ASSERT(n2 == n && (n == 0 || memcmp(v, again, n * sizeof *v) == 0));
    uint64_t *cut = tok_extract(m, h, 7, w, &ncap);
    check_set(cut, ncap, 7);
    FUZZ_ASSERT(ncap == (n < 7 ? n : 7) && (ncap == 0 || memcmp(v, cut, ncap * sizeof *v) == 0));
    if (w && n < TOK_MAX_DEFAULT) { /* pairs add to the single words, never remove */
        size_t n0;
        uint64_t *v0 = tok_extract(m, h, 0, 0, &n0);
        FUZZ_ASSERT(n0 <= n && subset(v0, n0, v, n));
        free(v0);
    }
    if (n < TOK_MAX_DEFAULT) { /* below the cap the parts are subsets of the whole */
        uint64_t *vm = tok_extract(m, NULL, 0, w, &nm);
        uint64_t *vh = tok_extract(NULL, h, 0, w, &nh);
        check_set(vm, nm, TOK_MAX_DEFAULT);
        check_set(vh, nh, TOK_MAX_DEFAULT);
        FUZZ_ASSERT(subset(vm, nm, v, n) && subset(vh, nh, v, n));
        free(vm);
        free(vh);
    }
    free(v);
    free(again);
    free(cut);
    hdr_destroy(&h);
    msg_destroy(&m);
    return 0;
}
