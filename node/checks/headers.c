/* headers.c - header sanity: the fields RFC 5322 requires, damage, and impersonation.
 *
 * Reads the light header model (shared/hdr.c). Missing Date/From, Message-ID,
 * duplicated singleton fields, a Date far in the future or past, and broken
 * header syntax each add a symbol; none of them alone should block mail, so the
 * default weights are small and an administrator tunes them with score.NAME.
 *
 * The address fields are parsed here with a small RFC 5322 parser (phrases, quoted
 * strings, comments, groups, obsolete routes): what does not parse is scored, and
 * the From display name, decoded from RFC 2047 by node/unicode.c, is compared with
 * the address behind it and with check.headers.protected_domains: a protected name
 * or brand word, or a lookalike of one (ICU skeletons), shown over an address at
 * another registrable domain (libpsl, url_base_domain) is the shape of a phish. The
 * Received chain is read newest first for dates that run backwards, private
 * addresses between public hops, and a hop that contradicts the one above. The
 * state (limits, the protected list with its skeletons, one ICU spoof checker) is
 * built once per generation and only read by the workers. */
#include "checks.h"
#include "unicode.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *name; /* as configured, lower case: "example.com" or a brand "acme" */
    char *domain; /* registrable domain; NULL for a brand word */
    char *brand; /* first label of domain, or the brand word; NULL when under 3 letters */
} protected_entry;

typedef struct {
    int64_t max_future_s, max_past_s;
    int64_t received_tolerance_s;
    int64_t max_received;
    protected_entry *prot;
    size_t n_prot;
    uni_checker *uni;
} headers_state;

static const symbol_def header_symbols[] = {
    {"MISSING_DATE", 1.0, "No Date header"},
    {"MISSING_FROM", 2.0, "No From header"},
    {"MISSING_MESSAGE_ID", 0.5, "No Message-ID header"},
    {"MISSING_SUBJECT", 0.3, "No Subject header"},
    {"DUPLICATE_HEADER", 1.5,
     "A field that may appear once (From, Date, Subject, ...) appears more often"},
    {"INVALID_DATE", 1.0, "Date header is not an RFC 5322 date"},
    {"DATE_IN_FUTURE", 1.5, "Date is further ahead than check.headers.max_future"},
    {"DATE_IN_PAST", 0.5, "Date is further back than check.headers.max_past"},
    {"HEADER_BROKEN", 2.0, "Header block has lines that are not fields"},
    {"HEADER_NUL", 2.0, "NUL byte in the header block"},
    {"HEADER_8BIT", 0.5, "Unencoded 8-bit bytes in headers (RFC 2047 not used)"},
    {"HEADER_LONG_LINE", 0.5, "Header line longer than 998 octets"},
    {"HEADER_TOO_MANY", 2.0, "More header fields than the parser keeps"},
    {"NO_BODY_SEPARATOR", 1.0, "No empty line between header and body"},
    {"NO_HEADERS", 3.0, "Message has no header fields"},
    {"HEADER_BAD_ADDRESS", 1.5,
     "From, Sender, Reply-To, To or Cc is not an RFC 5322 address list (or Sender holds "
     "several addresses)"},
    {"FROM_INVALID", 2.0, "From holds no address (empty, <>, or an empty group)"},
    {"FROM_MULTIPLE", 1.5, "From holds several addresses and there is no Sender"},
    {"FROM_NAME_HAS_ADDRESS", 3.0,
     "The From display name shows an address at another registrable domain than the real "
     "one (\"paypal@paypal.com\" <x@evil.test>)"},
    {"FROM_NAME_IMPERSONATION", 4.0,
     "The From display name names a protected domain or brand "
     "(check.headers.protected_domains) while the address is elsewhere"},
    {"FROM_CONFUSABLE", 6.0,
     "The From display name or sender domain is a lookalike of a protected domain or "
     "brand (same Unicode skeleton, different text: Cyrillic letters, 1 for l, rn for m)"},
    {"MIXED_SCRIPT_FROM", 2.0,
     "A word of the From display name mixes scripts (Latin with Cyrillic or Greek)"},
    {"MIXED_SCRIPT_SUBJECT", 1.5,
     "A word of the Subject mixes scripts (Latin with Cyrillic "
     "or Greek)"},
    {"URL_CONFUSABLE_HOST", 4.0,
     "A link host is an internationalised name whose label mixes scripts, is written "
     "entirely in Latin lookalikes, or looks like a protected domain"},
    {"REPLYTO_DIFFERS", 0.3, "Reply-To is at another registrable domain than From"},
    {"REPLYTO_FREEMAIL", 1.0, "Reply-To is at a freemail provider while From is not"},
    {"RECEIVED_BROKEN", 0.5, "A Received field has no date or one that does not parse"},
    {"RECEIVED_DATES_DISORDER", 1.0,
     "An older Received hop is dated after a newer one by more than "
     "check.headers.received_tolerance"},
    {"RECEIVED_PRIVATE_IP", 0.5,
     "A Received hop comes from a private address while hops above and below it are public"},
    {"RECEIVED_FORGED", 2.0,
     "A Received hop claims to be by the host that, one hop above, received the message "
     "from somewhere else on the public internet"},
    {"RECEIVED_TOO_MANY", 1.0, "More Received fields than check.headers.max_received"},
    {"HEADER_2047_ABUSE", 2.0,
     "RFC 2047 encoded words misused: inside an address, malformed, decoding to control "
     "characters or to an address, or very many in one field"},
    {"HEADER_ENCODED_ASCII", 0.3, "Subject is base64-encoded plain ASCII"},
    {NULL, 0, NULL},
};

static const char *const freemail[] = {
    "gmail.com",   "googlemail.com", "yahoo.com", "ymail.com",  "outlook.com",
    "hotmail.com", "live.com",       "msn.com",   "aol.com",    "icloud.com",
    "me.com",      "mail.ru",        "yandex.ru", "yandex.com", "gmx.com",
    "gmx.de",      "gmx.net",        "web.de",    "proton.me",  "protonmail.com",
    "zoho.com",    "qq.com",         "163.com",   "126.com",    "mail.com",
};

/* Limits of what one message can make us do. */
#define MAX_MAILBOXES 32
#define MAX_HOPS 100
#define MAX_ENCODED_WORDS 40
#define QUOTE 80 /* bytes of a header value quoted in a detail */

/* ---- small helpers ---------------------------------------------------------------- */

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void base_domain(const char *domain, char *out, size_t outlen)
{
    char d[256];
    snprintf(d, sizeof d, "%s", domain);
    lower(d);
    size_t n = strlen(d);
    if (n && d[n - 1] == '.')
        d[n - 1] = '\0';
    url_base_domain(d, out, outlen);
    lower(out);
}

static bool is_freemail(const char *base)
{
    for (size_t i = 0; i < sizeof freemail / sizeof freemail[0]; i++)
        if (strcmp(base, freemail[i]) == 0)
            return true;
    return false;
}

/* The first label of a registrable domain: "example" of "example.co.uk". */
static void first_label(const char *domain, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s", (int)strcspn(domain, "."), domain);
}

/* needle (lower-case ASCII) occurs in hay as a whole word, case-insensitively. */
static bool has_word(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!n)
        return false;
    for (const char *p = hay; (p = strcasestr(p, needle)); p++) {
        bool left = p == hay || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]);
        if (left && right)
            return true;
    }
    return false;
}

/* Once-per-message symbols: the first occurrence's detail is kept. */
typedef struct {
    scan_task *t;
    const headers_state *s;
    const hdr_block *h;
    bool bad_address, abuse;
} run_ctx;

static void once(run_ctx *r, bool *done, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void once(run_ctx *r, bool *done, const char *name, const char *fmt, ...)
{
    if (*done)
        return;
    *done = true;
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    task_symbol(r->t, name, "%s", detail);
}

/* ---- RFC 5322 address lists --------------------------------------------------------- */

typedef struct {
    char name[256]; /* display name, RFC 2047-decoded UTF-8 ("" when none) */
    char addr[256]; /* local@domain, domain lower case; "" for <> */
    const char *domain; /* into addr, after the '@' */
    bool addr_2047; /* an encoded word inside the address */
    uni_2047_info name_info;
} mailbox;

typedef struct {
    mailbox mb[MAX_MAILBOXES];
    size_t n; /* kept */
    size_t total; /* seen */
    unsigned words; /* encoded words in display names */
    char err[96]; /* why the field does not parse; "" when it does */
} addr_list;

enum { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL, T_ERR };

typedef struct {
    int type;
    char ch; /* T_SPECIAL */
    const char *s; /* raw span: for T_QSTR inside the quotes */
    size_t n;
} tok;

typedef struct {
    const char *p;
    char comment[128]; /* the last comment, for "addr (Name)" */
    addr_list *out;
    tok cur;
} lexer;

static bool is_atext(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static void lex_error(lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void lex_error(lexer *lx, const char *fmt, ...)
{
    if (!lx->out->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(lx->out->err, sizeof lx->out->err, fmt, ap);
        va_end(ap);
    }
    lx->cur.type = T_ERR;
}

/* Skips white space and (nested) comments; false on an unterminated comment. */
static bool skip_cfws(lexer *lx)
{
    for (;;) {
        while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')
            lx->p++;
        if (*lx->p != '(')
            return true;
        int depth = 0;
        const char *start = lx->p + 1;
        do {
            if (*lx->p == '\\' && lx->p[1])
                lx->p++;
            else if (*lx->p == '(')
                depth++;
            else if (*lx->p == ')')
                depth--;
            else if (!*lx->p)
                return false;
            lx->p++;
        } while (depth > 0);
        snprintf(lx->comment, sizeof lx->comment, "%.*s", (int)(lx->p - 1 - start), start);
    }
}

static void lex_next(lexer *lx)
{
    tok *t = &lx->cur;
    memset(t, 0, sizeof *t);
    if (!skip_cfws(lx)) {
        lex_error(lx, "unterminated comment");
        return;
    }
    const char *p = lx->p;
    unsigned char c = (unsigned char)*p;
    if (!c) {
        t->type = T_END;
    } else if (c == '"' || c == '[') {
        char close = c == '"' ? '"' : ']';
        const char *q = p + 1;
        while (*q && *q != close) {
            if (*q == '\\' && q[1])
                q++;
            q++;
        }
        if (!*q) {
            lex_error(lx, "%s", c == '"' ? "unterminated quoted string" : "unterminated [");
            return;
        }
        t->type = c == '"' ? T_QSTR : T_DLIT;
        t->s = p + 1;
        t->n = (size_t)(q - p - 1);
        lx->p = q + 1;
    } else if (is_atext(c)) {
        const char *q = p;
        while (is_atext((unsigned char)*q))
            q++;
        t->type = T_ATOM;
        t->s = p;
        t->n = (size_t)(q - p);
        lx->p = q;
    } else if (strchr("<>:;@,.", c)) {
        t->type = T_SPECIAL;
        t->ch = (char)c;
        t->s = p;
        t->n = 1;
        lx->p = p + 1;
    } else {
        char what[8];
        snprintf(what, sizeof what, c < 0x20 || c == 0x7f ? "0x%02x" : "%c", c);
        lex_error(lx, "unexpected '%s'", what);
    }
}

static bool is_special(const tok *t, char ch)
{
    return t->type == T_SPECIAL && t->ch == ch;
}

static bool looks_encoded(const tok *t)
{
    const char *open = memmem(t->s, t->n, "=?", 2);
    return open && memmem(open + 2, t->n - (size_t)(open + 2 - t->s), "?=", 2);
}

typedef struct {
    tok w[48];
    size_t n;
} phrase;

/* Appends the text of a word (quoted pairs resolved) to buf. */
static void append_word(char *buf, size_t len, const tok *t)
{
    size_t at = strlen(buf);
    for (size_t i = 0; i < t->n && at + 1 < len; i++) {
        if (t->type == T_QSTR && t->s[i] == '\\' && i + 1 < t->n)
            i++;
        buf[at++] = t->s[i];
    }
    buf[at] = '\0';
}

static void phrase_text(const phrase *ph, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ph->n; i++) {
        if (i && !is_special(&ph->w[i], '.') && strlen(buf) + 1 < len)
            strcat(buf, " ");
        append_word(buf, len, &ph->w[i]);
    }
}

/* addr-spec after its local part: "@" domain. The local part is the phrase. */
static bool finish_addr_spec(lexer *lx, const phrase *local, mailbox *mb)
{
    char *a = mb->addr;
    a[0] = '\0';
    for (size_t i = 0; i < local->n; i++) {
        bool dot = is_special(&local->w[i], '.');
        if (dot == (i % 2 == 0) || (i + 1 == local->n && dot)) {
            lex_error(lx, "bad local part");
            return false;
        }
        if (local->w[i].type == T_QSTR)
            strncat(a, "\"", sizeof mb->addr - strlen(a) - 1);
        append_word(a, sizeof mb->addr, &local->w[i]);
        if (local->w[i].type == T_QSTR)
            strncat(a, "\"", sizeof mb->addr - strlen(a) - 1);
        mb->addr_2047 |= local->w[i].type == T_ATOM && looks_encoded(&local->w[i]);
    }
    if (!local->n) {
        lex_error(lx, "empty local part");
        return false;
    }
    strncat(a, "@", sizeof mb->addr - strlen(a) - 1);
    size_t at = strlen(a);
    lex_next(lx); /* past '@' */
    if (lx->cur.type == T_DLIT) {
        snprintf(a + at, sizeof mb->addr - at, "[%.*s]", (int)lx->cur.n, lx->cur.s);
        lex_next(lx);
    } else {
        for (bool first = true;; first = false) {
            if (lx->cur.type != T_ATOM) {
                lex_error(lx, "%s", first ? "no domain after '@'" : "empty domain label");
                return false;
            }
            mb->addr_2047 |= looks_encoded(&lx->cur);
            append_word(a, sizeof mb->addr, &lx->cur);
            lex_next(lx);
            if (!is_special(&lx->cur, '.'))
                break;
            strncat(a, ".", sizeof mb->addr - strlen(a) - 1);
            lex_next(lx);
        }
    }
    lower(a + at);
    mb->domain = a + at;
    return true;
}

static void keep(lexer *lx, mailbox *mb, const char *rawname)
{
    addr_list *out = lx->out;
    out->total++;
    mb->name_info = (uni_2047_info){0};
    uni_decode_2047(rawname, mb->name, sizeof mb->name, &mb->name_info);
    out->words += mb->name_info.words;
    if (out->n < MAX_MAILBOXES) {
        mailbox *kept = &out->mb[out->n++];
        *kept = *mb;
        kept->domain = mb->domain ? kept->addr + (mb->domain - mb->addr) : NULL;
    }
}

/* One mailbox or group; lx->cur is its first token. */
static bool parse_address(lexer *lx, bool in_group)
{
    phrase ph = {.n = 0};
    mailbox mb;
    char rawname[256];
    memset(&mb, 0, sizeof mb);
    lx->comment[0] = '\0';
    while (lx->cur.type == T_ATOM || lx->cur.type == T_QSTR || is_special(&lx->cur, '.')) {
        if (ph.n < sizeof ph.w / sizeof ph.w[0])
            ph.w[ph.n++] = lx->cur;
        lex_next(lx);
    }
    if (lx->cur.type == T_ERR)
        return false;
    if (is_special(&lx->cur, '<')) {
        phrase_text(&ph, rawname, sizeof rawname);
        lex_next(lx);
        if (is_special(&lx->cur, '@')) { /* obsolete route: <@a,@b:x@y> */
            while (lx->cur.type != T_END && lx->cur.type != T_ERR && !is_special(&lx->cur, ':'))
                lex_next(lx);
            if (!is_special(&lx->cur, ':')) {
                lex_error(lx, "bad route in <...>");
                return false;
            }
            lex_next(lx);
        }
        if (!is_special(&lx->cur, '>')) {
            phrase local = {.n = 0};
            while (lx->cur.type == T_ATOM || lx->cur.type == T_QSTR || is_special(&lx->cur, '.')) {
                if (local.n < sizeof local.w / sizeof local.w[0])
                    local.w[local.n++] = lx->cur;
                lex_next(lx);
            }
            if (!is_special(&lx->cur, '@')) {
                if (lx->cur.type != T_ERR)
                    lex_error(lx, "no '@' in <...>");
                return false;
            }
            if (!finish_addr_spec(lx, &local, &mb))
                return false;
            if (!is_special(&lx->cur, '>')) {
                if (lx->cur.type != T_ERR)
                    lex_error(lx, "no closing '>'");
                return false;
            }
        }
        lex_next(lx);
        keep(lx, &mb, rawname);
        return true;
    }
    if (is_special(&lx->cur, ':')) {
        if (in_group || !ph.n) {
            lex_error(lx, "%s", in_group ? "group inside a group" : "':' without a group name");
            return false;
        }
        lex_next(lx);
        while (!is_special(&lx->cur, ';') && lx->cur.type != T_END) {
            if (is_special(&lx->cur, ',')) {
                lex_next(lx);
                continue;
            }
            if (!parse_address(lx, true))
                return false;
            if (!is_special(&lx->cur, ',') && !is_special(&lx->cur, ';') && lx->cur.type != T_END) {
                lex_error(lx, "junk after an address in a group");
                return false;
            }
        }
        if (is_special(&lx->cur, ';'))
            lex_next(lx);
        return true;
    }
    if (is_special(&lx->cur, '@')) {
        if (!finish_addr_spec(lx, &ph, &mb))
            return false;
        keep(lx, &mb, lx->comment);
        return true;
    }
    if (ph.n) {
        char name[64];
        phrase_text(&ph, name, sizeof name);
        lex_error(lx, "no address after '%s'", name);
    } else if (lx->cur.type != T_ERR) {
        char what[4] = {lx->cur.ch ? lx->cur.ch : '?', 0};
        lex_error(lx, "unexpected '%s'", what);
    }
    return false;
}

/* Parses value into out; false (out->err says why) if it is not an address list. */
static bool parse_address_list(const char *value, addr_list *out)
{
    lexer lx = {.p = value, .out = out};
    memset(out, 0, sizeof *out);
    lex_next(&lx);
    while (lx.cur.type != T_END) {
        if (is_special(&lx.cur, ',')) {
            lex_next(&lx);
            continue;
        }
        if (!parse_address(&lx, false))
            return false;
        if (lx.cur.type != T_END && !is_special(&lx.cur, ',')) {
            if (lx.cur.type != T_ERR)
                lex_error(&lx, "junk after an address");
            return false;
        }
    }
    return true;
}

/* ---- From, Reply-To and the display name ------------------------------------------------ */

/* Finds an address (local@domain.tld) in text; false if there is none. */
static bool find_address(const char *text, char *out, size_t outlen)
{
    for (const char *at = strchr(text, '@'); at; at = strchr(at + 1, '@')) {
        const char *l = at, *r = at + 1;
        while (l > text && (is_atext((unsigned char)l[-1]) || l[-1] == '.') && l[-1] != '\'')
            l--;
        bool dot = false;
        while (isalnum((unsigned char)*r) || *r == '-' || *r == '.' || (unsigned char)*r >= 0x80) {
            dot |= *r == '.';
            r++;
        }
        while (r > at + 1 && r[-1] == '.')
            r--;
        if (l < at && dot && r[-1] != '.' && memchr(at + 1, '.', (size_t)(r - at - 1))) {
            snprintf(out, outlen, "%.*s", (int)(r - l), l);
            return true;
        }
    }
    return false;
}

/* Does the address's registrable domain belong to the protected entry? */
static bool owns(const protected_entry *e, const char *from_base)
{
    if (e->domain)
        return strcmp(from_base, e->domain) == 0;
    char label[128];
    first_label(from_base, label, sizeof label);
    return strcmp(label, e->brand) == 0;
}

/* Words of a display name, split like uni_mixed_script splits them. */
static size_t name_words(const char *name, char words[][128], size_t max)
{
    size_t n = 0;
    const char *p = name;
    while (*p && n < max) {
        size_t skip = strspn(p, " \t\"'()<>[],;:!?*|/\\");
        p += skip;
        size_t len = strcspn(p, " \t\"'()<>[],;:!?*|/\\");
        if (!len)
            break;
        snprintf(words[n++], 128, "%.*s", (int)len, p);
        p += len;
    }
    return n;
}

static void check_display_name(run_ctx *r, const mailbox *from, const char *from_base)
{
    const headers_state *s = r->s;
    const char *name = from->name;
    char other[256], other_base[256];

    if (find_address(name, other, sizeof other)) {
        const char *d = strchr(other, '@') + 1;
        base_domain(d, other_base, sizeof other_base);
        /* Mailman and Google Groups rewrite From to "x@y via List" <list@...>. */
        bool list = hdr_get(r->h, "List-Id") && strcasestr(name, " via ");
        if (strcmp(other_base, from_base) != 0 && !list)
            task_symbol(r->t, "FROM_NAME_HAS_ADDRESS",
                        "display name '%.*s' shows %.*s, address is %.*s", QUOTE, name, QUOTE,
                        other, QUOTE, from->addr);
    }

    bool named = false, confusable = false;
    char words[16][128];
    size_t nw = name_words(name, words, 16);
    for (size_t i = 0; i < s->n_prot; i++) {
        const protected_entry *e = &s->prot[i];
        if (owns(e, from_base))
            continue;
        if (!named &&
            ((e->domain && has_word(name, e->name)) || (e->brand && has_word(name, e->brand)))) {
            named = true;
            task_symbol(r->t, "FROM_NAME_IMPERSONATION",
                        "display name '%.*s' names protected %s, address is at %s", QUOTE, name,
                        e->name, from_base);
        }
        for (size_t w = 0; w < nw && !confusable; w++) {
            if (uni_confusable(s->uni, words[w], e->name) ||
                (e->brand && uni_confusable(s->uni, words[w], e->brand))) {
                confusable = true;
                task_symbol(r->t, "FROM_CONFUSABLE",
                            "display name word '%s' looks like protected %s, address is at %s",
                            words[w], e->name, from_base);
            }
        }
    }
}

static void check_sender_domain(run_ctx *r, const char *from_base)
{
    const headers_state *s = r->s;
    char uni[256], label[128];
    uni_idna_to_unicode(from_base, uni, sizeof uni);
    first_label(uni, label, sizeof label);
    for (size_t i = 0; i < s->n_prot; i++) {
        const protected_entry *e = &s->prot[i];
        if (owns(e, from_base))
            continue;
        if ((e->domain && uni_confusable(s->uni, uni, e->domain)) ||
            (e->brand && uni_confusable(s->uni, label, e->brand))) {
            task_symbol(r->t, "FROM_CONFUSABLE", "sender domain %s (%s) looks like protected %s",
                        from_base, uni, e->name);
            return;
        }
    }
}

/* Parses every field called name; returns the first field's list (NULL if none). */
static addr_list *parse_fields(run_ctx *r, const char *name)
{
    addr_list *first = NULL;
    const hdr_block *h = r->h;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->f[i].name, name) != 0)
            continue;
        addr_list *l = xmalloc(sizeof *l);
        bool ok = parse_address_list(h->f[i].value, l);
        if (!ok)
            once(r, &r->bad_address, "HEADER_BAD_ADDRESS", "%s: %s in '%.*s'", name, l->err, QUOTE,
                 h->f[i].value);
        else if (strcasecmp(name, "Sender") == 0 && l->total > 1)
            once(r, &r->bad_address, "HEADER_BAD_ADDRESS", "Sender holds %zu addresses", l->total);
        for (size_t k = 0; ok && k < l->n; k++) {
            const mailbox *mb = &l->mb[k];
            char shown[256];
            if (mb->addr_2047)
                once(r, &r->abuse, "HEADER_2047_ABUSE", "%s: encoded word inside address %.*s",
                     name, QUOTE, mb->addr);
            else if (mb->name_info.malformed)
                once(r, &r->abuse, "HEADER_2047_ABUSE", "%s: malformed encoded word '%s'", name,
                     mb->name_info.bad);
            else if (mb->name_info.controls)
                once(r, &r->abuse, "HEADER_2047_ABUSE",
                     "%s: display name decodes to %u control characters", name,
                     mb->name_info.controls);
            else if (mb->name_info.words &&
                     (strchr(mb->name, '<') || find_address(mb->name, shown, sizeof shown)))
                once(r, &r->abuse, "HEADER_2047_ABUSE",
                     "%s: encoded display name decodes to an address: '%.*s'", name, QUOTE,
                     mb->name);
        }
        if (ok && l->words > MAX_ENCODED_WORDS)
            once(r, &r->abuse, "HEADER_2047_ABUSE", "%s: %u encoded words", name, l->words);
        if (!ok || first) {
            free(l);
            continue;
        }
        first = l;
    }
    return first;
}

static void check_addresses(run_ctx *r)
{
    const headers_state *s = r->s;
    addr_list *from = parse_fields(r, "From");
    addr_list *sender = parse_fields(r, "Sender");
    addr_list *reply = parse_fields(r, "Reply-To");
    free(parse_fields(r, "To"));
    free(parse_fields(r, "Cc"));

    char from_base[256] = "";
    if (from && from->total == 0) {
        task_symbol(r->t, "FROM_INVALID", "From '%.*s' holds no address", QUOTE,
                    hdr_get(r->h, "From"));
    } else if (from && !from->mb[0].addr[0]) {
        task_symbol(r->t, "FROM_INVALID", "From address is empty (<>)");
    } else if (from) {
        if (from->total > 1 && !sender)
            task_symbol(r->t, "FROM_MULTIPLE", "From holds %zu addresses and there is no Sender",
                        from->total);
        const mailbox *mb = &from->mb[0];
        base_domain(mb->domain, from_base, sizeof from_base);
        char word[128];
        if (mb->name[0] && uni_mixed_script(s->uni, mb->name, word, sizeof word))
            task_symbol(r->t, "MIXED_SCRIPT_FROM", "display name '%.*s': word '%s'", QUOTE,
                        mb->name, word);
        if (mb->name[0])
            check_display_name(r, mb, from_base);
        check_sender_domain(r, from_base);
    }

    if (from_base[0] && reply && reply->n && reply->mb[0].domain) {
        char reply_base[256];
        base_domain(reply->mb[0].domain, reply_base, sizeof reply_base);
        if (strcmp(reply_base, from_base) != 0) {
            task_symbol(r->t, "REPLYTO_DIFFERS", "Reply-To at %s, From at %s", reply_base,
                        from_base);
            if (is_freemail(reply_base) && !is_freemail(from_base))
                task_symbol(r->t, "REPLYTO_FREEMAIL", "Reply-To at freemail %s, From at %s",
                            reply_base, from_base);
        }
    }
    free(from);
    free(sender);
    free(reply);
}

/* ---- Subject and URLs ------------------------------------------------------------ */

static void check_subject(run_ctx *r)
{
    const char *subj = hdr_get(r->h, "Subject");
    if (!subj)
        return;
    char text[2048], word[128];
    uni_2047_info info;
    uni_decode_2047(subj, text, sizeof text, &info);
    if (info.malformed)
        once(r, &r->abuse, "HEADER_2047_ABUSE", "Subject: malformed encoded word '%s'", info.bad);
    else if (info.controls)
        once(r, &r->abuse, "HEADER_2047_ABUSE", "Subject decodes to %u control characters",
             info.controls);
    else if (info.words > MAX_ENCODED_WORDS)
        once(r, &r->abuse, "HEADER_2047_ABUSE", "Subject: %u encoded words", info.words);
    if (info.words && info.b64_ascii == info.words)
        task_symbol(r->t, "HEADER_ENCODED_ASCII", "Subject '%.*s' is base64 of plain ASCII", QUOTE,
                    text);
    if (uni_mixed_script(r->s->uni, text, word, sizeof word))
        task_symbol(r->t, "MIXED_SCRIPT_SUBJECT", "Subject '%.*s': word '%s'", QUOTE, text, word);
}

/* Alphabets whose own ccTLDs legitimately hold all-lookalike labels. */
static bool lookalike_tld_ok(const char *tld)
{
    static const char *const tlds[] = {"ru", "su", "ua", "by", "kz", "bg", "mk",
                                       "rs", "mn", "kg", "tj", "gr", "cy"};
    for (size_t i = 0; i < sizeof tlds / sizeof tlds[0]; i++)
        if (strcmp(tld, tlds[i]) == 0)
            return true;
    return (unsigned char)tld[0] >= 0x80; /* an IDN TLD: the label fits its script */
}

/* Why a link host is a lookalike; "" when it is not. */
static void judge_host(const headers_state *s, const char *host, char *why, size_t whylen)
{
    char uni[512], base[256], ubase[512], word[128];
    why[0] = '\0';
    bool idn = strncasecmp(host, "xn--", 4) == 0 || strstr(host, ".xn--");
    for (const char *p = host; *p && !idn; p++)
        idn = (unsigned char)*p >= 0x80;
    if (!idn)
        return;
    uni_idna_to_unicode(host, uni, sizeof uni);
    const char *tld = strrchr(uni, '.');
    tld = tld ? tld + 1 : uni;
    char labels[512];
    snprintf(labels, sizeof labels, "%s", uni);
    for (char *save = NULL, *l = strtok_r(labels, ".", &save); l; l = strtok_r(NULL, ".", &save)) {
        if (uni_mixed_script(s->uni, l, word, sizeof word)) {
            snprintf(why, whylen, "%.100s (%.100s): label '%.60s' mixes scripts", host, uni, word);
            return;
        }
        if (l != labels + (tld - uni) && !lookalike_tld_ok(tld) &&
            uni_whole_script_latin_lookalike(s->uni, l)) {
            snprintf(why, whylen, "%.100s (%.100s): label '%.60s' is all Latin lookalikes", host,
                     uni, l);
            return;
        }
    }
    base_domain(host, base, sizeof base);
    uni_idna_to_unicode(base, ubase, sizeof ubase);
    for (size_t i = 0; i < s->n_prot; i++) {
        const protected_entry *e = &s->prot[i];
        if (e->domain && uni_confusable(s->uni, ubase, e->domain)) {
            snprintf(why, whylen, "%.100s (%.100s) looks like protected %.100s", host, uni,
                     e->name);
            return;
        }
    }
}

static void check_urls(run_ctx *r)
{
    const html_url *urls;
    size_t n = msg_urls(task_message(r->t), &urls);
    for (size_t i = 0; i < n; i++) {
        char why[400];
        if (!urls[i].host || !urls[i].host[0])
            continue;
        judge_host(r->s, urls[i].host, why, sizeof why);
        if (why[0]) {
            task_symbol(r->t, "URL_CONFUSABLE_HOST", "%s", why);
            return;
        }
    }
}

/* ---- Received ----------------------------------------------------------------------- */

enum { IP_NONE, IP_PUBLIC, IP_PRIVATE, IP_LOOPBACK };

typedef struct {
    char from[128], by[128], ip[64];
    int ipclass;
    bool has_date;
    time_t date;
    const char *why; /* why the field is broken, or NULL */
} hop;

static int ip_class(const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1) {
        if (a[0] == 127)
            return IP_LOOPBACK;
        if (a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
            (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
            (a[0] == 169 && a[1] == 254))
            return IP_PRIVATE;
        return IP_PUBLIC;
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char loop[16] = {[15] = 1}, mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(a, loop, 16) == 0)
            return IP_LOOPBACK;
        if (memcmp(a, mapped, 12) == 0) {
            char v4[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, a + 12, v4, sizeof v4);
            return ip_class(v4);
        }
        if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
            return IP_PRIVATE;
        return IP_PUBLIC;
    }
    return IP_NONE;
}

/* The connecting address in a from clause. The HELO is the sender's to choose,
 * so an address inside the clause's comment (what the receiving MTA saw: Postfix
 * and Sendmail "(rdns [IP])", Exim "([IP] helo=...)", Exchange "(IP)") wins over a
 * bracketed HELO; only without one is an address anywhere in the clause taken. */
static void clause_ip(const char *s, size_t n, hop *hp)
{
    char buf[64];
    for (int pass = 0; pass < 2; pass++) {
        int depth = 0;
        for (size_t i = 0; i < n; i++) {
            depth += s[i] == '(' ? 1 : s[i] == ')' && depth > 0 ? -1 : 0;
            if ((s[i] != '[' && s[i] != '(' && s[i] != ' ') || (pass == 0 && depth == 0))
                continue;
            size_t start = i + 1, len = strcspn(s + start, "] )");
            if (start + len > n || len == 0 || len >= sizeof buf)
                continue;
            snprintf(buf, sizeof buf, "%.*s", (int)len, s + start);
            const char *ip = strncasecmp(buf, "IPv6:", 5) == 0 ? buf + 5 : buf;
            int c = ip_class(ip);
            if (c != IP_NONE) {
                snprintf(hp->ip, sizeof hp->ip, "%s", ip);
                hp->ipclass = c;
                return;
            }
        }
    }
}

static void parse_received(const char *v, hop *hp)
{
    memset(hp, 0, sizeof *hp);
    const char *semi = strrchr(v, ';');
    if (!semi)
        hp->why = "no date";
    else if (!hdr_parse_date(semi + 1, &hp->date))
        hp->why = "date does not parse";
    else
        hp->has_date = true;
    size_t end = semi ? (size_t)(semi - v) : strlen(v);
    /* Clauses at comment depth 0: "from X (...)", "by Y (...)", with/id/for/via. */
    int depth = 0;
    const char *from_at = NULL;
    size_t from_len = 0;
    for (size_t i = 0; i < end; i++) {
        char c = v[i];
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        if (depth || (i && v[i - 1] != ' ' && v[i - 1] != ')'))
            continue;
        static const char *const kw[] = {"from ", "by ", "with ", "id ", "for ", "via "};
        for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++) {
            size_t kl = strlen(kw[k]);
            if (i + kl > end || strncasecmp(v + i, kw[k], kl) != 0)
                continue;
            if (from_at && !from_len)
                from_len = (size_t)(v + i - from_at);
            const char *w = v + i + kl;
            w += strspn(w, " ");
            size_t wl = strcspn(w, " ;(");
            if (k == 0 && !from_at) {
                snprintf(hp->from, sizeof hp->from, "%.*s", (int)wl, w);
                from_at = v + i;
            } else if (k == 1 && !hp->by[0]) {
                snprintf(hp->by, sizeof hp->by, "%.*s", (int)wl, w);
            }
            break;
        }
    }
    if (from_at) {
        if (!from_len)
            from_len = (size_t)(v + end - from_at);
        clause_ip(from_at + 4, from_len - 4, hp);
    }
    lower(hp->from);
    lower(hp->by);
}

static void check_received(run_ctx *r)
{
    const hdr_block *h = r->h;
    const headers_state *s = r->s;
    size_t total = hdr_count(h, "Received"), n = 0;
    if (!total)
        return;
    if ((int64_t)total > s->max_received)
        task_symbol(r->t, "RECEIVED_TOO_MANY", "%zu Received fields (limit %lld)", total,
                    (long long)s->max_received);
    hop *hops = xcalloc(total < MAX_HOPS ? total : MAX_HOPS, sizeof *hops);
    bool broken = false;
    for (size_t i = 0; i < h->n && n < MAX_HOPS; i++) {
        if (strcasecmp(h->f[i].name, "Received") != 0)
            continue;
        parse_received(h->f[i].value, &hops[n]);
        if (hops[n].why)
            once(r, &broken, "RECEIVED_BROKEN", "Received #%zu: %s in '%.*s'", n + 1, hops[n].why,
                 QUOTE, h->f[i].value);
        n++;
    }

    /* Newest first: each older hop should be dated no later than the one above it. */
    for (size_t i = 0, above = SIZE_MAX; i < n; i++) {
        if (!hops[i].has_date)
            continue;
        if (above != SIZE_MAX && hops[i].date > hops[above].date + s->received_tolerance_s) {
            task_symbol(r->t, "RECEIVED_DATES_DISORDER",
                        "Received #%zu is dated %lld s after the newer #%zu above it", i + 1,
                        (long long)(hops[i].date - hops[above].date), above + 1);
            break;
        }
        above = i;
    }

    /* A private address with public hops both above and below it claims a public hop
     * from a private network. Relays of our own (above the first public hop) and the
     * sender's internal hops (below the last one) are private legitimately; loopback
     * is a content filter re-injecting and is never scored. */
    size_t first_pub = SIZE_MAX, last_pub = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (hops[i].ipclass == IP_PUBLIC) {
            if (first_pub == SIZE_MAX)
                first_pub = i;
            last_pub = i;
        }
    for (size_t i = first_pub + 1; first_pub != SIZE_MAX && i < last_pub; i++)
        if (hops[i].ipclass == IP_PRIVATE) {
            task_symbol(r->t, "RECEIVED_PRIVATE_IP",
                        "Received #%zu from %s [%s] between public hops #%zu and #%zu", i + 1,
                        hops[i].from, hops[i].ip, first_pub + 1, last_pub + 1);
            break;
        }

    /* Hop i says host B received the message from a public address A. The hop below,
     * written before the message reached B, cannot also be by B: B would have received
     * it twice with nobody in between. Re-injection (from B itself or loopback) is fine. */
    for (size_t i = 0; i + 1 < n; i++) {
        const hop *up = &hops[i], *low = &hops[i + 1];
        if (up->ipclass == IP_PUBLIC && up->by[0] && strcmp(low->by, up->by) == 0 &&
            strcmp(up->from, up->by) != 0) {
            task_symbol(r->t, "RECEIVED_FORGED",
                        "Received #%zu claims to be by %s, which at #%zu received it from %s [%s]",
                        i + 2, low->by, i + 1, up->from, up->ip);
            break;
        }
    }
    free(hops);
}

/* ---- the check ---------------------------------------------------------------------- */

static void headers_free(void *state)
{
    headers_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_prot; i++) {
        free(s->prot[i].name);
        free(s->prot[i].domain);
        free(s->prot[i].brand);
    }
    free(s->prot);
    uni_checker_destroy(&s->uni);
    free(s);
}

static void add_protected(headers_state *s, const char *item, size_t len)
{
    while (len && isspace((unsigned char)*item))
        item++, len--;
    while (len && isspace((unsigned char)item[len - 1]))
        len--;
    if (!len)
        return;
    protected_entry *e = &s->prot[s->n_prot++];
    e->name = xmalloc(len + 1);
    snprintf(e->name, len + 1, "%.*s", (int)len, item);
    lower(e->name);
    char base[256], label[128];
    if (strchr(e->name, '.')) {
        base_domain(e->name, base, sizeof base);
        e->domain = xstrdup(base);
        first_label(base, label, sizeof label);
    } else {
        snprintf(label, sizeof label, "%s", e->name);
    }
    if (strlen(label) >= 3)
        e->brand = xstrdup(label);
    else if (!e->domain)
        free(e->name), s->n_prot--; /* a two-letter brand would match everywhere */
}

static bool headers_init(const params *cfg, void **state, char *err, size_t errlen)
{
    headers_state *s = xcalloc(1, sizeof *s);
    s->max_future_s = params_int(cfg, "check.headers.max_future") / 1000;
    s->max_past_s = params_int(cfg, "check.headers.max_past") / 1000;
    s->received_tolerance_s = params_int(cfg, "check.headers.received_tolerance") / 1000;
    s->max_received = params_int(cfg, "check.headers.max_received");
    const char *list = params_str(cfg, "check.headers.protected_domains");
    size_t items = 1;
    for (const char *p = list; *p; p++)
        items += *p == ',';
    s->prot = xcalloc(items, sizeof *s->prot);
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        add_protected(s, p, len);
        if (!p[len])
            break;
        p += len + 1;
    }
    s->uni = uni_checker_new(err, errlen);
    if (!s->uni) {
        headers_free(s);
        return false;
    }
    *state = s;
    return true;
}

static void headers_run(scan_task *t, const void *state)
{
    const headers_state *s = state;
    const hdr_block *h = task_headers(t);
    static const char *once_fields[] = {"From",   "Date", "Subject", "Message-ID",
                                        "Sender", "To",   "Reply-To"};

    if (h->flags & HDR_EMPTY) {
        task_symbol(t, "NO_HEADERS", "no header fields");
        return;
    }
    if (h->flags & HDR_BAD_LINE)
        task_symbol(t, "HEADER_BROKEN", "line without 'name:' in header block");
    if (h->flags & HDR_NUL)
        task_symbol(t, "HEADER_NUL", "NUL byte in header block");
    if (h->flags & HDR_8BIT)
        task_symbol(t, "HEADER_8BIT", "raw 8-bit bytes in header block");
    if (h->flags & HDR_LONG_LINE)
        task_symbol(t, "HEADER_LONG_LINE", "header line over 998 octets");
    if (h->flags & HDR_TOO_MANY)
        task_symbol(t, "HEADER_TOO_MANY", "more than %d header fields", HDR_MAX_FIELDS);
    if (h->flags & HDR_NO_SEPARATOR)
        task_symbol(t, "NO_BODY_SEPARATOR", "no empty line after the header block");

    if (!hdr_get(h, "From"))
        task_symbol(t, "MISSING_FROM", "no From field");
    if (!hdr_get(h, "Message-ID"))
        task_symbol(t, "MISSING_MESSAGE_ID", "no Message-ID field");
    if (!hdr_get(h, "Subject"))
        task_symbol(t, "MISSING_SUBJECT", "no Subject field");
    for (size_t i = 0; i < sizeof once_fields / sizeof once_fields[0]; i++) {
        size_t c = hdr_count(h, once_fields[i]);
        if (c > 1) {
            task_symbol(t, "DUPLICATE_HEADER", "%s appears %zu times", once_fields[i], c);
            break;
        }
    }

    const char *date = hdr_get(h, "Date");
    time_t when;
    if (!date) {
        task_symbol(t, "MISSING_DATE", "no Date field");
    } else if (!hdr_parse_date(date, &when)) {
        task_symbol(t, "INVALID_DATE", "Date '%.80s' does not parse", date);
    } else if (when - task_time(t) > s->max_future_s) {
        task_symbol(t, "DATE_IN_FUTURE", "Date is %lld s ahead", (long long)(when - task_time(t)));
    } else if (task_time(t) - when > s->max_past_s) {
        task_symbol(t, "DATE_IN_PAST", "Date is %lld days old",
                    (long long)((task_time(t) - when) / 86400));
    }

    run_ctx r = {.t = t, .s = s, .h = h};
    check_addresses(&r);
    check_subject(&r);
    check_received(&r);
    check_urls(&r);
}

const check_def check_headers = {
    .name = "headers",
    .symbols = header_symbols,
    .init = headers_init,
    .run = headers_run,
    .free = headers_free,
};
