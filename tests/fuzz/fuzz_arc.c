/* fuzz_arc.c - ARC header sets and Authentication-Results (node/arc.h, node/authres.h),
 * without DNS.
 *
 * The same bytes are an Authentication-Results value, an ARC-Authentication-Results
 * payload, an ARC-Seal and an ARC-Message-Signature value, and a raw message whose ARC
 * fields the verifier assembles and checks. Accepted values must hold what later code
 * relies on (instances 1..50, lower-case names that DNS can ask, b= spans inside the
 * text, From but no ARC-Seal in h=; results and properties NUL-terminated and lower
 * case). The verifier is given stalwart's example keys (an RSA and an Ed25519 record)
 * for every key name it asks, so a seed sealed with them reaches the signature checks;
 * a result must be consistent (a pass names a sealer for every set). */
#include "arc.h"
#include "authres.h"
#include "fuzz.h"
#include "util.h"

#include <ctype.h>
#include <string.h>

static const char rsa_key[] =
    "v=DKIM1; t=s; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7"
    "/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4O"
    "uKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
static const char ed_key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static bool lower_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

static bool lower(const char *s)
{
    for (; *s; s++)
        if (isupper((unsigned char)*s))
            return false;
    return true;
}

static void check_authres(const char *s, size_t n)
{
    authres *a = xmalloc(sizeof *a);
    char err[200];
    bool ok = authres_parse(s, n, a, err, sizeof err);
    FUZZ_ASSERT(ok || err[0]);
    FUZZ_ASSERT(a->n <= AUTHRES_MAX_RESULTS);
    FUZZ_ASSERT(strlen(a->authserv_id) < sizeof a->authserv_id);
    for (size_t i = 0; i < a->n; i++) {
        const authres_result *r = &a->r[i];
        FUZZ_ASSERT(r->method[0] && lower(r->method) && lower(r->result) && r->result[0]);
        FUZZ_ASSERT(r->nprops <= AUTHRES_MAX_PROPS);
        for (size_t k = 0; k < r->nprops; k++) {
            FUZZ_ASSERT(r->props[k].ptype[0] && r->props[k].property[0]);
            FUZZ_ASSERT(lower(r->props[k].ptype) && lower(r->props[k].property));
            FUZZ_ASSERT(strlen(r->props[k].value) < AUTHRES_VALUE_MAX);
            FUZZ_ASSERT(authres_prop_get(r, r->props[k].ptype, r->props[k].property));
        }
    }
    char id[64];
    if (authres_authserv_id(s, n, id, sizeof id))
        FUZZ_ASSERT(id[0] && strlen(id) < sizeof id);
    free(a);

    arc_aar x;
    arc_aar_read(s, n, &x);
    FUZZ_ASSERT(x.ndkim <= ARC_AAR_DKIM_MAX);
    FUZZ_ASSERT(!x.spf_domain[0] || lower_name(x.spf_domain));
    FUZZ_ASSERT(!x.dmarc_from[0] || lower_name(x.dmarc_from));
    for (size_t i = 0; i < x.ndkim; i++)
        FUZZ_ASSERT(!x.dkim[i].domain[0] || lower_name(x.dkim[i].domain));
}

static void check_sig(arc_kind k, const char *s, size_t n)
{
    arc_sig sig;
    char err[200];
    if (!arc_sig_parse(k, s, n, &sig, err, sizeof err)) {
        FUZZ_ASSERT(err[0]);
        arc_sig_clear(&sig);
        return;
    }
    FUZZ_ASSERT(sig.instance >= 1 && sig.instance <= ARC_MAX_SETS);
    FUZZ_ASSERT(sig.alg == DKIM_ALG_RSA_SHA256 || sig.alg == DKIM_ALG_ED25519_SHA256);
    FUZZ_ASSERT(lower_name(sig.domain) && lower_name(sig.selector));
    FUZZ_ASSERT(sig.b && sig.blen > 0);
    FUZZ_ASSERT(sig.b_from <= sig.b_to && sig.b_to <= n);
    if (k == ARC_AMS) {
        bool from = false;
        for (size_t i = 0; i < sig.headers.n; i++) {
            FUZZ_ASSERT(lower(sig.headers.v[i]));
            FUZZ_ASSERT(strcmp(sig.headers.v[i], "arc-seal") != 0);
            from |= strcmp(sig.headers.v[i], "from") == 0;
        }
        FUZZ_ASSERT(from);
    }
    unsigned inst;
    FUZZ_ASSERT(arc_instance(k, s, n, &inst, NULL, err, sizeof err) && inst == sig.instance);
    arc_sig_clear(&sig);
}

static void check_chain(const uint8_t *data, size_t size)
{
    arc_opts o;
    arc_opts_default(&o);
    arc_verifier *v = arc_verifier_new(data, size, &o);
    size_t nkeys = arc_verifier_key_count(v);
    FUZZ_ASSERT(nkeys <= ARC_MAX_SETS + 1);
    for (size_t k = 0; k < nkeys; k++) {
        const char *name = arc_verifier_key_name(v, k);
        FUZZ_ASSERT(name && strstr(name, "._domainkey."));
        const char *rec = k % 2 ? ed_key : rsa_key;
        arc_verifier_set_key(v, name, DKIM_LOOKUP_FOUND, rec, strlen(rec), "ok");
    }
    arc_verifier_run(v);
    const arc_result *r = arc_verifier_result(v);
    FUZZ_ASSERT(r->res <= ARC_RES_TEMPERROR);
    FUZZ_ASSERT(strlen(r->reason) < sizeof r->reason);
    FUZZ_ASSERT(r->sets <= ARC_MAX_SETS && r->instance <= r->sets);
    if (!arc_verifier_found(v))
        FUZZ_ASSERT(r->res == ARC_RES_NONE && nkeys == 0);
    else
        FUZZ_ASSERT(r->res != ARC_RES_NONE);
    FUZZ_ASSERT(r->res != ARC_RES_TEMPERROR); /* every key was given */
    if (r->res == ARC_RES_PASS) {
        FUZZ_ASSERT(r->sets >= 1 && !r->reason[0]);
        for (unsigned i = 1; i <= r->sets; i++) {
            size_t len;
            FUZZ_ASSERT(arc_verifier_sealer(v, i) && arc_verifier_aar(v, i, &len));
            FUZZ_ASSERT(len <= size);
        }
    } else if (r->res == ARC_RES_FAIL) {
        FUZZ_ASSERT(r->reason[0]);
    }
    arc_verifier_destroy(&v);

    unsigned idx[8];
    size_t n = authres_find_ours(data, size, "mx.example", idx, 8);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(idx[i] >= 1 && (i == 0 || idx[i] > idx[i - 1]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_authres(s, size);
    unsigned inst;
    size_t off;
    char err[200];
    if (arc_instance(ARC_AAR, s, size, &inst, &off, err, sizeof err)) {
        FUZZ_ASSERT(inst >= 1 && inst <= ARC_MAX_SETS && off <= size);
        check_authres(s + off, size - off);
    }
    check_sig(ARC_SEAL, s, size);
    check_sig(ARC_AMS, s, size);
    check_chain(data, size);
    return 0;
}
