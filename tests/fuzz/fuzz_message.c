/* fuzz_message.c - the MIME model (node/message.c) on arbitrary bytes.
 *
 * Each input is parsed once; every accessor is read and every string touched to its
 * NUL, so ASan sees any read past what the model owns. Invariants: one part when the
 * message is broken (the raw pseudo-part, holding exactly the input); counts within
 * MSG_MAX_PARTS / MSG_MAX_URLS, parts left out only with MSG_ANOM_TOO_MANY_PARTS; parts indexed in
 * order, no deeper than MSG_MAX_DEPTH; text present exactly for text parts, valid UTF-8 of the
 * stated length; anomaly flags known, each with a detail iff set; msg_destroy NULLs. */
#include "fuzz.h"
#include "log.h"
#include "message.h"

#include <glib.h>
#include <string.h>

#define KNOWN_ANOM ((MSG_ANOM_PREAMBLE_TEXT << 1) - 1)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_message");
    log_set_level(LOG_ERROR);
    return 0;
}

static volatile size_t sink;

static void touch(const char *s)
{
    FUZZ_ASSERT(s != NULL);
    sink += strlen(s);
}

static void check_utf8(const char *s, size_t len)
{
    FUZZ_ASSERT(s != NULL);
    FUZZ_ASSERT(strlen(s) == len);
    FUZZ_ASSERT(g_utf8_validate(s, (gssize)len, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_model *m = msg_parse(data, size);
    FUZZ_ASSERT(m != NULL);
    const msg_part *p;
    size_t n = msg_parts(m, &p);
    FUZZ_ASSERT(n <= MSG_MAX_PARTS);
    FUZZ_ASSERT(msg_leaf_count(m) >= n);
    unsigned a = msg_anomalies(m);
    FUZZ_ASSERT((a & ~(unsigned)KNOWN_ANOM) == 0);
    if (msg_broken(m)) {
        FUZZ_ASSERT(a & MSG_ANOM_UNPARSABLE);
        FUZZ_ASSERT(n == 1 && p[0].len == size && !p[0].is_text && !p[0].text);
        FUZZ_ASSERT(size == 0 || memcmp(p[0].data, data, size) == 0);
    }
    if (msg_leaf_count(m) > n)
        FUZZ_ASSERT(a & MSG_ANOM_TOO_MANY_PARTS);
    for (unsigned bit = 0; bit < 32; bit++) {
        const char *d = msg_anomaly_detail(m, 1u << bit);
        touch(d);
        FUZZ_ASSERT((*d != '\0') == ((a & (1u << bit)) != 0));
    }
    for (size_t i = 0; i < n; i++) {
        const msg_part *q = &p[i];
        FUZZ_ASSERT(q->index == i);
        FUZZ_ASSERT(q->depth <= MSG_MAX_DEPTH);
        touch(q->filename);
        touch(q->content_type);
        touch(q->charset);
        touch(q->detected_type);
        FUZZ_ASSERT((q->len == 0) == (*q->detected_type == '\0'));
        FUZZ_ASSERT(q->len == 0 || q->data != NULL);
        if (q->len)
            sink += q->data[0] + q->data[q->len - 1];
        FUZZ_ASSERT(!q->is_text || !q->attachment);
        /* text parts, and attached HTML files (read for their links and forms) */
        FUZZ_ASSERT((q->text != NULL) == (q->is_text || (q->attachment && q->is_html)));
        if (q->text) {
            check_utf8(q->text, q->text_len);
            touch(q->text_charset);
        }
    }
    const html_url *u;
    size_t nu = msg_urls(m, &u);
    FUZZ_ASSERT(nu <= MSG_MAX_URLS);
    for (size_t i = 0; i < nu; i++) {
        touch(u[i].url);
        touch(u[i].host);
        touch(u[i].text);
        FUZZ_ASSERT(u[i].part < n);
        FUZZ_ASSERT(u[i].from != 0);
    }
    const html_stats *s = msg_html(m);
    FUZZ_ASSERT(s != NULL);
    size_t tl;
    const char *text = msg_text(m, &tl);
    check_utf8(text, tl);
    msg_destroy(&m);
    FUZZ_ASSERT(m == NULL);
    return 0;
}
