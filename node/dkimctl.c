/* dkimctl.c - the `bulwarkctl dkim` commands: verify, sign and keygen.
 *
 *   dkim verify [--dns HOST:PORT] [--json] [--time EPOCH] FILE...
 *   dkim sign --domain D --selector S --key PEM [--algorithm A] [--canon H/B]
 *             [--headers LIST] [--identity I] [--expire SECONDS] [--length]
 *             [--header-only] FILE
 *   dkim keygen --type rsa|ed25519 [--bits N] --selector S --domain D --out PEM
 *   dkim secret --out FILE
 *   dkim seal --secret FILE --domain D --selector S PEM
 *
 * verify runs node/dkim.c over each file with a resolver of its own (libunbound:
 * the --dns forwarder, else full recursion), one DNS batch per file. sign prints the
 * message with the new DKIM-Signature on top, in the message's own line ends. keygen
 * writes the private key (mode 0600, never over an existing file) and prints the TXT
 * record to publish, cut into 255-byte strings. secret writes a new cluster key for
 * the nodes' dkim_key_file; seal encrypts a private key with it into the value of a
 * dkim.sign.DOMAIN.SELECTOR configuration key (node/dkimseal.h). */
#include "dkimctl.h"
#include "cli.h"
#include "dkim.h"
#include "dkimseal.h"
#include "dns.h"
#include "json.h"
#include "params.h"
#include "util.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage_text =
    "usage: bulwarkctl dkim verify [--dns HOST:PORT] [--json] [--time EPOCH] FILE...\n"
    "       bulwarkctl dkim sign --domain D --selector S --key PEM\n"
    "           [--algorithm rsa-sha256|ed25519-sha256] [--canon relaxed/relaxed]\n"
    "           [--headers from:to:...] [--identity I] [--expire SECONDS] [--length]\n"
    "           [--header-only] FILE\n"
    "       bulwarkctl dkim keygen --type rsa|ed25519 [--bits 2048] --selector S\n"
    "           --domain D --out PEM\n"
    "       bulwarkctl dkim secret --out FILE\n"
    "       bulwarkctl dkim seal --secret FILE --domain D --selector S PEM\n";

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bulwarkctl: dkim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    va_end(ap);
    return 2;
}

/* Key material is wiped before its memory goes back. */
static void wipe_free(char *p, size_t n)
{
    if (p)
        OPENSSL_cleanse(p, n);
    free(p);
}

/* ---- verify --------------------------------------------------------------------------- */

static void print_json(const char *file, const dkim_verifier *v)
{
    buf_t b = {0};
    buf_puts(&b, "{\"file\":");
    json_cstr(&b, file);
    buf_printf(&b, ",\"found\":%zu,\"verified\":%zu,\"signatures\":[", dkim_verifier_found(v),
               dkim_verifier_count(v));
    for (size_t i = 0; i < dkim_verifier_count(v); i++) {
        const dkim_result *r = dkim_verifier_result(v, i);
        buf_puts(&b, i ? ",{\"result\":" : "{\"result\":");
        json_cstr(&b, dkim_res_name(r->res));
        const char *keys[] = {"domain", "selector", "identity", "alg", "reason"};
        const char *vals[] = {r->domain, r->selector, r->identity, r->alg, r->reason};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            buf_printf(&b, ",\"%s\":", keys[k]);
            json_cstr(&b, vals[k]);
        }
        buf_printf(&b, ",\"key_bits\":%u,\"length\":", r->key_bits);
        if (r->flags & DKIM_F_LENGTH)
            buf_printf(&b, "%llu", (unsigned long long)r->length);
        else
            buf_puts(&b, "null");
        buf_printf(&b, ",\"unsigned_tail\":%s,\"weak_sha1\":%s,\"testing\":%s}",
                   r->flags & DKIM_F_LENGTH_PARTIAL ? "true" : "false",
                   r->flags & DKIM_F_SHA1 ? "true" : "false",
                   r->flags & DKIM_F_TESTING ? "true" : "false");
    }
    buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

static void print_text(const char *file, const dkim_verifier *v)
{
    size_t found = dkim_verifier_found(v), n = dkim_verifier_count(v);
    if (!found) {
        printf("%s: none (no DKIM signature)\n", file);
        return;
    }
    printf("%s: %zu signature%s", file, found, found == 1 ? "" : "s");
    if (found > n)
        printf(" (the first %zu verified)", n);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        const dkim_result *r = dkim_verifier_result(v, i);
        char d[400];
        dkim_result_describe(r, d, sizeof d);
        printf("    %-10s %s\n", dkim_res_name(r->res), d);
    }
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dns", required_argument, 0, 'd'},
        {"json", no_argument, 0, 'j'},
        {"time", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *dns = NULL;
    bool json = false;
    uint64_t when = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': dns = optarg; break;
        case 'j': json = true; break;
        case 't':
            if (!cli_parse_uint(optarg, 1, 253402300799ULL, &when))
                return usage("--time wants seconds since 1970, not '%s'", optarg);
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage("verify: bad option");
        }
    }
    if (optind >= argc)
        return usage("verify: no files given");
    dns_opts o;
    dns_opts_default(&o);
    if (dns)
        strlist_add(&o.forwarders, dns);
    char err[512];
    dns_resolver *r = dns_new(&o, err, sizeof err);
    strlist_free(&o.forwarders);
    if (!r) {
        fprintf(stderr, "bulwarkctl: dkim verify: %s\n", err);
        return dns ? 2 : 1;
    }
    dkim_opts vo;
    dkim_opts_default(&vo);
    vo.now = (time_t)when;
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        size_t len;
        char *raw = file_read(argv[i], &len);
        if (!raw) {
            fprintf(stderr, "bulwarkctl: %s: %s\n", argv[i], strerror(errno));
            failed++;
            continue;
        }
        dkim_verifier *v = dkim_verifier_new((const uint8_t *)raw, len, &vo);
        dns_batch *b = dns_batch_new(r, 0);
        dkim_verifier_submit(v, b);
        dkim_verifier_collect(v, b);
        dkim_verifier_run(v);
        bool pass = false;
        for (size_t k = 0; k < dkim_verifier_count(v); k++)
            pass |= dkim_verifier_result(v, k)->res == DKIM_RES_PASS;
        failed += !pass;
        if (json)
            print_json(argv[i], v);
        else
            print_text(argv[i], v);
        dns_batch_destroy(&b);
        dkim_verifier_destroy(&v);
        free(raw);
    }
    dns_destroy(&r);
    return failed ? 1 : 0;
}

/* ---- sign ------------------------------------------------------------------------------ */

static char *read_key(const char *path, size_t *len)
{
    char *pem = file_read(path, len);
    if (!pem)
        fprintf(stderr, "bulwarkctl: %s: %s\n", path, strerror(errno));
    return pem;
}

/* The signature field in the line ends the message uses (CRLF or LF). */
static void put_field(const char *field, bool crlf)
{
    for (const char *p = field; *p; p++)
        if (*p != '\r' || crlf)
            putchar(*p);
    fputs(crlf ? "\r\n" : "\n", stdout);
}

static int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"domain", required_argument, 0, 'd'},   {"selector", required_argument, 0, 's'},
        {"key", required_argument, 0, 'k'},      {"algorithm", required_argument, 0, 'a'},
        {"canon", required_argument, 0, 'c'},    {"headers", required_argument, 0, 'H'},
        {"identity", required_argument, 0, 'i'}, {"expire", required_argument, 0, 'x'},
        {"length", no_argument, 0, 'l'},         {"header-only", no_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    dkim_sign_opts so = {.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED};
    const char *keyfile = NULL, *alg = NULL;
    bool header_only = false;
    uint64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': so.domain = optarg; break;
        case 's': so.selector = optarg; break;
        case 'k': keyfile = optarg; break;
        case 'a': alg = optarg; break;
        case 'c':
            if (!dkim_canon_parse(optarg, &so.hcanon, &so.bcanon))
                return usage("sign: --canon wants simple|relaxed[/simple|relaxed], not '%s'",
                             optarg);
            break;
        case 'H': so.headers = optarg; break;
        case 'i': so.identity = optarg; break;
        case 'x':
            if (!cli_parse_uint(optarg, 1, 315360000, &v))
                return usage("sign: --expire wants seconds (1 to 10 years), not '%s'", optarg);
            so.expire_s = (int64_t)v;
            break;
        case 'l': so.body_length = true; break;
        case 'o': header_only = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage("sign: bad option");
        }
    }
    if (!so.domain || !so.selector || !keyfile)
        return usage("sign: --domain, --selector and --key are required");
    if (optind + 1 != argc)
        return usage("sign: one FILE");
    size_t klen, len;
    char *pem = read_key(keyfile, &klen), err[512];
    if (!pem)
        return 1;
    dkim_signkey *k = dkim_signkey_load(pem, klen, err, sizeof err);
    wipe_free(pem, klen);
    if (!k) {
        fprintf(stderr, "bulwarkctl: %s: %s\n", keyfile, err);
        return 1;
    }
    so.alg =
        dkim_signkey_type(k) == DKIM_KEY_ED25519 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
    if (alg && (!dkim_alg_parse(alg, &so.alg) || so.alg == DKIM_ALG_RSA_SHA1)) {
        dkim_signkey_destroy(&k);
        return usage("sign: --algorithm wants rsa-sha256 or ed25519-sha256, not '%s'", alg);
    }
    const char *file = argv[optind];
    char *raw = file_read(file, &len);
    if (!raw) {
        fprintf(stderr, "bulwarkctl: %s: %s\n", file, strerror(errno));
        dkim_signkey_destroy(&k);
        return 1;
    }
    char *field = dkim_sign(k, &so, (const uint8_t *)raw, len, err, sizeof err);
    dkim_signkey_destroy(&k);
    if (!field) {
        fprintf(stderr, "bulwarkctl: dkim sign %s: %s\n", file, err);
        free(raw);
        return 1;
    }
    const char *lf = memchr(raw, '\n', len);
    put_field(field, !lf || (lf > raw && lf[-1] == '\r'));
    if (!header_only)
        fwrite(raw, 1, len, stdout);
    free(field);
    free(raw);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- keygen --------------------------------------------------------------------------- */

/* The key record in zone-file syntax, cut into character-strings of 255 bytes. */
static void print_record(FILE *f, const char *owner, const char *rec)
{
    fprintf(f, "%s. IN TXT (", owner);
    for (size_t i = 0, n = strlen(rec); i < n; i += 255)
        fprintf(f, " \"%.255s\"", rec + i);
    fprintf(f, " )\n");
}

static int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, 0, 't'},
        {"bits", required_argument, 0, 'b'},
        {"selector", required_argument, 0, 's'},
        {"domain", required_argument, 0, 'd'},
        {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *type = NULL, *selector = NULL, *domain = NULL, *out = NULL;
    uint64_t bits = 2048;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 't': type = optarg; break;
        case 'b':
            if (!cli_parse_uint(optarg, 1024, 8192, &bits))
                return usage("keygen: --bits wants 1024 to 8192, not '%s'", optarg);
            break;
        case 's': selector = optarg; break;
        case 'd': domain = optarg; break;
        case 'o': out = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage("keygen: bad option");
        }
    }
    if (!type || !selector || !domain || !out)
        return usage("keygen: --type, --selector, --domain and --out are required");
    if (optind < argc)
        return usage("keygen: unexpected argument '%s'", argv[optind]);
    dkim_keytype kt;
    if (strcmp(type, "rsa") == 0)
        kt = DKIM_KEY_RSA;
    else if (strcmp(type, "ed25519") == 0)
        kt = DKIM_KEY_ED25519;
    else
        return usage("keygen: --type wants rsa or ed25519, not '%s'", type);
    char err[512], norm[256], name[600];
    snprintf(name, sizeof name, "%s._domainkey.%s", selector, domain);
    if (!dns_name_normalize(name, norm, sizeof norm))
        return usage("keygen: '%s' is not a usable DNS name", name);
    dkim_signkey *k = dkim_signkey_generate(kt, (unsigned)bits, err, sizeof err);
    if (!k) {
        fprintf(stderr, "bulwarkctl: dkim keygen: %s\n", err);
        return 1;
    }
    char *pem = dkim_signkey_pem(k), *rec = dkim_signkey_record(k);
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t plen = strlen(pem);
    bool ok = fd >= 0 && write(fd, pem, plen) == (ssize_t)plen;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "bulwarkctl: %s: %s\n", out, strerror(errno));
    if (ok) {
        printf("wrote %s (private key, %s %u bits)\n", out, type, dkim_signkey_bits(k));
        printf("publish this TXT record:\n");
        print_record(stdout, norm, rec);
    }
    wipe_free(pem, plen);
    free(rec);
    dkim_signkey_destroy(&k);
    return ok ? 0 : 1;
}

/* ---- keys for the mail path ------------------------------------------------------- */

/* Writes text to a new file of mode 0600 (never over an existing one). */
static bool write_new(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t n = strlen(text);
    bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "bulwarkctl: %s: %s\n", path, strerror(errno));
    return ok;
}

static int cmd_secret(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--out") != 0)
        return usage("secret: --out FILE");
    char *text = dkimseal_new_key_text();
    bool ok = write_new(argv[2], text);
    wipe_free(text, strlen(text));
    if (ok)
        printf("wrote %s: give it to every node as dkim_key_file (mode 600, owned by the "
               "user bulwark-node starts as)\n",
               argv[2]);
    return ok ? 0 : 1;
}

static int cmd_seal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"secret", required_argument, 0, 'k'},
        {"domain", required_argument, 0, 'd'},
        {"selector", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *secret = NULL, *domain = NULL, *selector = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (opt) {
        case 'k': secret = optarg; break;
        case 'd': domain = optarg; break;
        case 's': selector = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage("seal: bad option");
        }
    }
    if (!secret || !domain || !selector || optind + 1 != argc)
        return usage("seal: --secret, --domain, --selector and one PEM file are required");
    char name[400], d[300], err[512];
    snprintf(name, sizeof name, "dkim.sign.%s.%s", domain, selector);
    const char *sel = params_dkim_key(name, d, sizeof d);
    if (!sel || strcmp(sel, selector) != 0 || strcmp(d, domain) != 0)
        return usage("seal: '%s' is not a key name (lower-case domain, one-label selector)", name);
    uint8_t key[DKIMSEAL_KEY_BYTES];
    if (!dkimseal_load(secret, key, err, sizeof err)) {
        fprintf(stderr, "bulwarkctl: %s\n", err);
        return 1;
    }
    size_t len;
    char *pem = read_key(argv[optind], &len);
    dkim_signkey *k = pem ? dkim_signkey_load(pem, len, err, sizeof err) : NULL;
    if (pem && !k)
        fprintf(stderr, "bulwarkctl: %s: %s\n", argv[optind], err);
    char *sealed = k ? dkimseal_seal(key, pem, len) : NULL;
    OPENSSL_cleanse(key, sizeof key);
    wipe_free(pem, len);
    bool ok = sealed != NULL;
    if (ok) {
        char *rec = dkim_signkey_record(k), owner[300];
        printf("%s=%s\n", name, sealed);
        snprintf(owner, sizeof owner, "%s._domainkey.%s", selector, domain);
        fprintf(stderr, "bulwarkctl config set with the line above makes the nodes sign with it; "
                        "publish first:\n");
        print_record(stderr, owner, rec);
        free(rec);
    }
    free(sealed);
    dkim_signkey_destroy(&k);
    return ok ? 0 : 1;
}

int dkimctl_main(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(sub, "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    if (strcmp(sub, "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    if (strcmp(sub, "secret") == 0)
        return cmd_secret(argc - 1, argv + 1);
    if (strcmp(sub, "seal") == 0)
        return cmd_seal(argc - 1, argv + 1);
    return usage("say verify, sign, keygen, secret or seal");
}
