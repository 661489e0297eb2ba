/* fuzz_spf.c - the SPF record parser and macro expander (node/spf.h), no DNS.
 *
 * The input is parsed as a record as it is, and again behind "v=spf1 " (random
 * bytes rarely start with the version), then expanded as a macro-string in both
 * modes. Invariants: a refusal leaves a reason; an accepted record keeps its bounds
 * and every domain-spec it holds is a valid macro-string that expands to a name of at
 * most 253 characters; the expander agrees with spf_macro_valid and never writes
 * past its buffer or leaves one without its NUL. Run under ASan/UBSan: no leak, no UB. */
#include "fuzz.h"
#include "log.h"
#include "spf.h"
#include "util.h"

#include <string.h>

static const char *ptr(void *arg)
{
    (void)arg;
    return "mx.example.org";
}

static spf_ip client;
static spf_macro_env env = {
    .sender = "strong-bad@email.example.com",
    .domain = "email.example.com",
    .helo = "mx.example.org",
    .ip = &client,
    .receiver = "mx.receiver.example",
    .now = 1700000000,
    .ptr = ptr,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_spf");
    log_set_level(LOG_ERROR);
    return 0;
}

static void check_name(const char *spec)
{
    char out[SPF_NAME_MAX];
    FUZZ_ASSERT(spf_macro_valid(spec, strlen(spec), SPF_MACRO_DOMAIN));
    FUZZ_ASSERT(spf_expand(spec, strlen(spec), SPF_MACRO_DOMAIN, &env, out, sizeof out));
    FUZZ_ASSERT(strlen(out) <= SPF_NAME_MAX - 1);
    FUZZ_ASSERT(!*out || out[strlen(out) - 1] != '.');
}

static void check_record(const char *txt, size_t len)
{
    char err[256] = "";
    spf_record *r = spf_record_parse(txt, len, err, sizeof err);
    if (!r) {
        FUZZ_ASSERT(err[0] != '\0');
        return;
    }
    FUZZ_ASSERT(spf_is_record(txt, len) && len <= SPF_RECORD_MAX);
    FUZZ_ASSERT(r->nterms <= SPF_TERMS_MAX);
    for (size_t i = 0; i < r->nterms; i++) {
        const spf_term *t = &r->terms[i];
        FUZZ_ASSERT(t->text && *t->text && strchr("+-~?", t->qualifier));
        FUZZ_ASSERT(t->cidr4 <= 32 && t->cidr6 <= 128);
        if (t->mech == SPF_IP4 || t->mech == SPF_IP6)
            FUZZ_ASSERT(t->net.family == (t->mech == SPF_IP4 ? 4 : 6));
        if (t->domain)
            check_name(t->domain);
        else
            FUZZ_ASSERT(t->mech != SPF_INCLUDE && t->mech != SPF_EXISTS);
    }
    if (r->redirect)
        check_name(r->redirect);
    if (r->exp)
        check_name(r->exp);
    spf_record_destroy(&r);
}

static void check_expand(const char *s, size_t len, spf_macro_mode mode)
{
    char out[SPF_EXP_MAX];
    size_t outlen = mode == SPF_MACRO_DOMAIN ? SPF_NAME_MAX : 64;
    memset(out, 'Z', sizeof out);
    bool ok = spf_expand(s, len, mode, &env, out, outlen);
    FUZZ_ASSERT(ok == spf_macro_valid(s, len, mode));
    FUZZ_ASSERT(strnlen(out, outlen) < outlen);
    FUZZ_ASSERT(out[outlen] == 'Z'); /* nothing written past outlen */
    FUZZ_ASSERT(ok || out[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * SPF_RECORD_MAX)
        return 0;
    spf_ip_parse(size && data[0] & 1 ? "2001:db8::cb01" : "192.0.2.3", &client);
    check_record((const char *)data, size);
    char *rec = xmalloc(size + 8);
    memcpy(rec, "v=spf1 ", 7);
    memcpy(rec + 7, data, size);
    rec[size + 7] = '\0';
    check_record(rec, size + 7);
    free(rec);
    check_expand((const char *)data, size, SPF_MACRO_DOMAIN);
    check_expand((const char *)data, size, SPF_MACRO_EXPLAIN);
    return 0;
}
