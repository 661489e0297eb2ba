/* fuzz_rules.c - the rule parser and compiler on arbitrary rule text, then the
 * compiled set matched against a fixed small message.
 *
 * Bounded so Hyperscan's compile time stays sane: at most 50 rule lines and 4 KB
 * per input, and lines with a regex longer than 256 bytes are dropped before
 * parsing. A refused text must leave an error with "fuzz.rules:LINE"; an accepted
 * one must compile or fail with a message, and a compiled set must match without
 * crashing, reporting only rules it holds. Run under ASan/UBSan: no leak, no UB. */
#include "fuzz.h"
#include "hdr.h"
#include "log.h"
#include "rules.h"

#include <string.h>

#define RULES_MAX_INPUT 4096
#define MAX_LINES 50
#define MAX_LINE 300

static const char msg[] = "From: \"Sales\" <sales@example.com>\r\n"
                          "To: you@example.org\r\n"
                          "Subject: FREE MONEY!!! act now\r\n"
                          "Message-ID: <abc$def@example.com>\r\n"
                          "X-Mailer: Microsoft Outlook Express 6.00.2600.0000\r\n"
                          "Content-Type: text/html; charset=utf-8\r\n"
                          "\r\n"
                          "<html><body><font size=7>Dear friend</font> wire transfer "
                          "<a href=\"http://192.0.2.1/wp-admin/x.php?id=1\">click here</a>"
                          "</body></html>\r\n";
static const char text[] = "Dear friend wire transfer click here \xc3\xa9t\xc3\xa9 the the";

static bool known(const char *name, void *ctx)
{
    (void)ctx;
    return strcmp(name, "HTML_ONLY") == 0 || strcmp(name, "URL_IP_HOST") == 0;
}

static bool has_symbol(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "URL_IP_HOST") == 0;
}

static void on_hit(void *ctx, const char *name, const char *desc, const char *matched)
{
    size_t *n = ctx;
    FUZZ_ASSERT(name && *name && strncmp(name, "__", 2) != 0);
    FUZZ_ASSERT(desc && *desc && matched);
    FUZZ_ASSERT(strlen(matched) < 128);
    (*n)++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_rules");
    log_set_level(LOG_ERROR);
    return 0;
}

/* Keeps the input's first MAX_LINES lines of at most MAX_LINE bytes. */
static size_t bound(const uint8_t *data, size_t size, char *out)
{
    size_t o = 0, lines = 0, start = 0;
    for (size_t i = 0; i <= size && lines < MAX_LINES; i++) {
        if (i < size && data[i] != '\n')
            continue;
        size_t n = i - start;
        if (n <= MAX_LINE) {
            memcpy(out + o, data + start, n);
            o += n;
            out[o++] = '\n';
        }
        lines++;
        start = i + 1;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > RULES_MAX_INPUT)
        return 0;
    static char buf[RULES_MAX_INPUT + MAX_LINES + 2];
    size_t len = bound(data, size, buf);
    char err[512] = "";
    ruleset *rs = ruleset_new();
    if (!ruleset_parse(rs, "fuzz.rules", buf, len, err, sizeof err)) {
        FUZZ_ASSERT(strncmp(err, "fuzz.rules:", 11) == 0);
        FUZZ_ASSERT(ruleset_count(rs) == 0);
        ruleset_destroy(&rs);
        return 0;
    }
    if (!ruleset_compile(rs, known, NULL, err, sizeof err)) {
        FUZZ_ASSERT(err[0] != '\0');
        ruleset_destroy(&rs);
        return 0;
    }
    size_t nsyms, hs, pcre;
    ruleset_symbols(rs, &nsyms);
    ruleset_stats(rs, &hs, &pcre);
    FUZZ_ASSERT(nsyms <= ruleset_count(rs) && hs + pcre <= ruleset_count(rs));

    hdr_block *h = hdr_parse(msg, sizeof msg - 1);
    html_url url = {.url = "http://192.0.2.1/wp-admin/x.php?id=1", .host = "192.0.2.1", .text = ""};
    msg_part part = {.is_text = true,
                     .is_html = true,
                     .data = (const uint8_t *)msg + h->body_off,
                     .len = sizeof msg - 1 - h->body_off};
    rules_input in = {.hdrs = h,
                      .text = text,
                      .text_len = sizeof text - 1,
                      .parts = &part,
                      .nparts = 1,
                      .urls = &url,
                      .nurls = 1,
                      .raw = (const uint8_t *)msg,
                      .raw_len = sizeof msg - 1,
                      .has_symbol = has_symbol};
    size_t n = 0;
    FUZZ_ASSERT(ruleset_match(rs, &in, on_hit, &n) == n);
    FUZZ_ASSERT(n <= nsyms);
    size_t again = 0;
    FUZZ_ASSERT(ruleset_match(rs, &in, on_hit, &again) == n); /* pooled scratch reused */
    hdr_destroy(&h);
    ruleset_destroy(&rs);
    return 0;
}
