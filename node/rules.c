/* rules.c - parse, compile and match rule sets (docs/rules.md).
 *
 * Parsing turns each line into a rule: a type, a name, a regex with flags (or a
 * header test, or a meta expression kept as names in reverse Polish order), a
 * score and a description. Compiling resolves meta names to rules or to other
 * checks' symbols, orders metas so each comes after what it reads (a cycle is an
 * error), and puts every regex of one input kind into one Hyperscan database
 * (hs_compile_multi, single-match, block mode; the expression id is the rule's
 * index). A pattern Hyperscan refuses is compiled with PCRE2 (JIT, match limit)
 * instead; one PCRE2 refuses too is a bad regex. Matching borrows a pool entry
 * (a Hyperscan scratch cloned per concurrent worker, PCRE2 match data, hit flags)
 * so the compiled set stays read-only and shared across threads. */
#include "rules.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <hs/hs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum { T_HEADER, T_ALL, T_BODY, T_RAWBODY, T_URI, T_FULL, NDB, T_EXISTS = NDB, T_META };

enum { F_I = 1, F_S = 2, F_M = 4 };

/* Meta program: operands and operators in reverse Polish order. */
enum {
    OP_NUM,
    OP_NAME,
    OP_RULE,
    OP_EXT,
    OP_NOT,
    OP_AND,
    OP_OR,
    OP_ADD,
    OP_GE,
    OP_GT,
    OP_LE,
    OP_LT,
    OP_EQ
};

typedef struct {
    int op;
    int arg; /* OP_NUM value, OP_RULE rule index, OP_EXT index into ext names */
    char *name; /* OP_NAME until compile; OP_EXT keeps it */
} meta_op;

typedef struct {
    char *name, *desc, *origin;
    unsigned line;
    int type;
    char *hname; /* T_HEADER / T_EXISTS: the header name */
    bool negate; /* header !~ */
    char *re;
    unsigned flags;
    double score;
    meta_op *prog;
    size_t nprog;
    pcre2_code *pcre; /* set when PCRE2 matches this rule instead of Hyperscan */
    int depth; /* meta ordering */
} rule;

typedef struct pool_entry {
    struct pool_entry *next;
    hs_scratch_t *scratch;
    pcre2_match_data *md;
    uint8_t *hit; /* per rule: 1 regex matched, then final hit */
    char (*snip)[72];
    int *stack;
} pool_entry;

#define SNIP 60
#define MAX_META_STACK 256

struct ruleset {
    atomic_int refs;
    rule **r;
    size_t n, cap;
    bool compiled;
    hs_database_t *db[NDB];
    size_t n_hs, n_pcre;
    hs_scratch_t *proto;
    pcre2_match_context *mctx;
    size_t *metas; /* meta rule indices in evaluation order */
    size_t nmetas;
    strlist hnames; /* header names header rules read */
    symbol_def *syms;
    size_t nsyms;
    pthread_mutex_t lock;
    pool_entry *free_entries;
};

static void rule_free(rule *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nprog; i++)
        free(r->prog[i].name);
    free(r->prog);
    free(r->name);
    free(r->desc);
    free(r->origin);
    free(r->hname);
    free(r->re);
    pcre2_code_free(r->pcre);
    free(r);
}

ruleset *ruleset_new(void)
{
    ruleset *rs = xcalloc(1, sizeof *rs);
    atomic_init(&rs->refs, 1);
    pthread_mutex_init(&rs->lock, NULL);
    return rs;
}

ruleset *ruleset_ref(ruleset *rs)
{
    atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
    return rs;
}

static void entry_free(pool_entry *e)
{
    hs_free_scratch(e->scratch);
    pcre2_match_data_free(e->md);
    free(e->hit);
    free(e->snip);
    free(e->stack);
    free(e);
}

void ruleset_destroy(ruleset **rsp)
{
    ruleset *rs = *rsp;
    if (!rs)
        return;
    *rsp = NULL;
    if (atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < rs->n; i++)
        rule_free(rs->r[i]);
    free(rs->r);
    for (int d = 0; d < NDB; d++)
        hs_free_database(rs->db[d]);
    hs_free_scratch(rs->proto);
    pcre2_match_context_free(rs->mctx);
    while (rs->free_entries) {
        pool_entry *e = rs->free_entries;
        rs->free_entries = e->next;
        entry_free(e);
    }
    free(rs->metas);
    strlist_free(&rs->hnames);
    free(rs->syms);
    pthread_mutex_destroy(&rs->lock);
    free(rs);
}

size_t ruleset_count(const ruleset *rs)
{
    return rs->n;
}

void ruleset_stats(const ruleset *rs, size_t *hyperscan, size_t *pcre)
{
    *hyperscan = rs->n_hs;
    *pcre = rs->n_pcre;
}

const symbol_def *ruleset_symbols(const ruleset *rs, size_t *n)
{
    *n = rs->nsyms;
    return rs->syms;
}

/* ---- parsing ------------------------------------------------------------------ */

typedef struct {
    const char *origin;
    unsigned line;
    const char *p; /* cursor in a NUL-terminated copy of the line */
    char *err;
    size_t errlen;
} lexer;

static bool fail(lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(lexer *lx, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(lx->err, lx->errlen, "%s:%u: %s", lx->origin, lx->line, msg);
    return false;
}

static void skip_ws(lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t')
        lx->p++;
}

/* The next whitespace-delimited word, copied into out (truncated to outlen). */
static size_t word(lexer *lx, char *out, size_t outlen)
{
    skip_ws(lx);
    size_t n = 0;
    while (*lx->p && *lx->p != ' ' && *lx->p != '\t') {
        if (n + 1 < outlen)
            out[n++] = *lx->p;
        lx->p++;
    }
    out[n] = '\0';
    return n;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > 64 || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isupper((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static bool parse_regex(lexer *lx, rule *r)
{
    skip_ws(lx);
    if (*lx->p != '/')
        return fail(lx, "%s: expected /regex/ here", r->name);
    const char *start = ++lx->p;
    bool cls = false;
    for (; *lx->p; lx->p++) {
        if (*lx->p == '\\' && lx->p[1]) {
            lx->p++;
            continue;
        }
        if (*lx->p == '[')
            cls = true;
        else if (*lx->p == ']')
            cls = false;
        else if (*lx->p == '/' && !cls)
            break;
    }
    if (*lx->p != '/')
        return fail(lx, "%s: regex not closed with /", r->name);
    if (lx->p == start)
        return fail(lx, "%s: empty regex", r->name);
    r->re = xstrndup(start, (size_t)(lx->p - start));
    for (lx->p++; *lx->p && *lx->p != ' ' && *lx->p != '\t'; lx->p++) {
        switch (*lx->p) {
        case 'i': r->flags |= F_I; break;
        case 's': r->flags |= F_S; break;
        case 'm': r->flags |= F_M; break;
        default: return fail(lx, "%s: unknown regex flag '%c' (i, s, m)", r->name, *lx->p);
        }
    }
    return true;
}

static bool parse_header(lexer *lx, rule *r)
{
    char w[128];
    word(lx, w, sizeof w);
    if (str_iprefix(w, "exists:")) {
        if (!w[7])
            return fail(lx, "%s: exists: needs a header name", r->name);
        r->type = T_EXISTS;
        r->hname = xstrdup(w + 7);
        return true;
    }
    if (!*w || strchr(w, ':'))
        return fail(lx, "%s: expected a header name, ALL or exists:Name", r->name);
    char op[8];
    word(lx, op, sizeof op);
    if (strcmp(op, "=~") != 0 && strcmp(op, "!~") != 0)
        return fail(lx, "%s: expected =~ or !~ after the header name", r->name);
    r->negate = op[0] == '!';
    if (strcmp(w, "ALL") == 0)
        r->type = T_ALL;
    else
        r->hname = xstrdup(w);
    return parse_regex(lx, r);
}

/* ---- meta expressions: recursive descent into reverse Polish order ---- */

typedef struct {
    lexer *lx;
    rule *r;
    size_t cap;
    int depth;
} meta_parser;

static void emit(meta_parser *mp, int op, int arg, const char *name)
{
    rule *r = mp->r;
    if (r->nprog == mp->cap) {
        mp->cap = mp->cap ? mp->cap * 2 : 16;
        r->prog = xrealloc(r->prog, mp->cap * sizeof *r->prog);
    }
    r->prog[r->nprog++] = (meta_op){op, arg, name ? xstrdup(name) : NULL};
}

static bool at_end(lexer *lx)
{
    skip_ws(lx);
    if (!*lx->p)
        return true;
    return (strncmp(lx->p, "score", 5) == 0 || strncmp(lx->p, "desc", 4) == 0) &&
           !isupper((unsigned char)lx->p[0]);
}

static bool accept(lexer *lx, const char *tok)
{
    skip_ws(lx);
    size_t n = strlen(tok);
    if (strncmp(lx->p, tok, n) != 0)
        return false;
    lx->p += n;
    return true;
}

static bool m_or(meta_parser *mp);

static bool m_primary(meta_parser *mp)
{
    lexer *lx = mp->lx;
    skip_ws(lx);
    if (++mp->depth > 64)
        return fail(lx, "%s: meta expression nested too deeply", mp->r->name);
    bool ok;
    if (accept(lx, "!")) {
        ok = m_primary(mp);
        if (ok)
            emit(mp, OP_NOT, 0, NULL);
    } else if (accept(lx, "(")) {
        ok = m_or(mp);
        if (ok && !accept(lx, ")"))
            ok = fail(lx, "%s: missing ) in meta expression", mp->r->name);
    } else if (isdigit((unsigned char)*lx->p)) {
        char *end;
        long v = strtol(lx->p, &end, 10);
        lx->p = end;
        ok = v <= 10000 ? (emit(mp, OP_NUM, (int)v, NULL), true)
                        : fail(lx, "%s: number too large in meta expression", mp->r->name);
    } else if (isupper((unsigned char)*lx->p) || *lx->p == '_') {
        char name[80];
        size_t n = 0;
        while (isalnum((unsigned char)*lx->p) || *lx->p == '_') {
            if (n + 1 < sizeof name)
                name[n++] = *lx->p;
            lx->p++;
        }
        name[n] = '\0';
        ok = valid_name(name) ? (emit(mp, OP_NAME, 0, name), true)
                              : fail(lx, "%s: bad name '%s' in meta expression", mp->r->name, name);
    } else if (at_end(lx)) {
        ok = fail(lx, "%s: meta expression ends too early", mp->r->name);
    } else {
        ok = fail(lx, "%s: unexpected '%c' in meta expression", mp->r->name, *lx->p);
    }
    mp->depth--;
    return ok;
}

static bool m_sum(meta_parser *mp)
{
    if (!m_primary(mp))
        return false;
    while (accept(mp->lx, "+")) {
        if (!m_primary(mp))
            return false;
        emit(mp, OP_ADD, 0, NULL);
    }
    return true;
}

static bool m_cmp(meta_parser *mp)
{
    if (!m_sum(mp))
        return false;
    static const struct {
        const char *tok;
        int op;
    } ops[] = {{">=", OP_GE}, {"<=", OP_LE}, {"==", OP_EQ}, {">", OP_GT}, {"<", OP_LT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (accept(mp->lx, ops[i].tok)) {
            if (!m_sum(mp))
                return false;
            emit(mp, ops[i].op, 0, NULL);
            return true;
        }
    }
    return true;
}

static bool m_and(meta_parser *mp)
{
    if (!m_cmp(mp))
        return false;
    while (accept(mp->lx, "&&")) {
        if (!m_cmp(mp))
            return false;
        emit(mp, OP_AND, 0, NULL);
    }
    return true;
}

static bool m_or(meta_parser *mp)
{
    if (!m_and(mp))
        return false;
    while (accept(mp->lx, "||")) {
        if (!m_and(mp))
            return false;
        emit(mp, OP_OR, 0, NULL);
    }
    return true;
}

static bool parse_meta(lexer *lx, rule *r)
{
    meta_parser mp = {lx, r, 0, 0};
    if (!m_or(&mp))
        return false;
    if (!at_end(lx))
        return fail(lx, "%s: unexpected '%c' in meta expression", r->name, *lx->p);
    return true;
}

static bool parse_desc(lexer *lx, rule *r)
{
    skip_ws(lx);
    if (*lx->p != '"')
        return fail(lx, "%s: desc needs a \"quoted text\"", r->name);
    buf_t b = {0};
    for (lx->p++; *lx->p && *lx->p != '"'; lx->p++) {
        if (*lx->p == '\\' && lx->p[1])
            lx->p++;
        buf_printf(&b, "%c", *lx->p);
    }
    if (*lx->p != '"') {
        buf_free(&b);
        return fail(lx, "%s: desc not closed with \"", r->name);
    }
    lx->p++;
    free(r->desc);
    r->desc = xstrdup(b.data ? b.data : "");
    buf_free(&b);
    return true;
}

static bool parse_options(lexer *lx, rule *r)
{
    bool have_score = false;
    char w[64];
    while (word(lx, w, sizeof w)) {
        if (strcmp(w, "score") == 0) {
            char num[64], *end;
            word(lx, num, sizeof num);
            errno = 0;
            r->score = strtod(num, &end);
            if (!*num || *end || errno || r->score != r->score || r->score < -1000 ||
                r->score > 1000)
                return fail(lx, "%s: bad score '%s' (a number from -1000 to 1000)", r->name, num);
            have_score = true;
        } else if (strcmp(w, "desc") == 0) {
            if (!parse_desc(lx, r))
                return false;
        } else {
            return fail(lx, "%s: unknown option '%s' (score, desc)", r->name, w);
        }
    }
    if (!have_score)
        return fail(lx, "%s: missing score", r->name);
    if (!r->desc || !*r->desc)
        return fail(lx, "%s: missing desc", r->name);
    return true;
}

static const struct {
    const char *word;
    int type;
} types[] = {{"header", T_HEADER}, {"body", T_BODY}, {"rawbody", T_RAWBODY},
             {"uri", T_URI},       {"full", T_FULL}, {"meta", T_META}};

static bool parse_line(lexer *lx, rule *r)
{
    char w[64];
    word(lx, w, sizeof w);
    r->type = -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(w, types[i].word) == 0)
            r->type = types[i].type;
    if (r->type < 0)
        return fail(lx, "unknown rule type '%s' (header, body, rawbody, uri, full, meta)", w);
    char name[80];
    word(lx, name, sizeof name);
    r->name = xstrdup(name);
    if (!valid_name(name))
        return fail(lx, "bad rule name '%s' (A-Z, 0-9 and _, at most 64)", name);
    bool ok = r->type == T_HEADER ? parse_header(lx, r)
              : r->type == T_META ? parse_meta(lx, r)
                                  : parse_regex(lx, r);
    return ok && parse_options(lx, r);
}

static ssize_t find_rule(const ruleset *rs, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->r[i]->name, name) == 0)
            return (ssize_t)i;
    return -1;
}

bool ruleset_parse(ruleset *rs, const char *origin, const char *text, size_t len, char *err,
                   size_t errlen)
{
    if (rs->compiled) {
        snprintf(err, errlen, "%s: rule set already compiled", origin);
        return false;
    }
    size_t first = rs->n;
    rule **replaced = NULL; /* per new rule: the earlier-origin rule it replaces */
    size_t *slot = NULL, nrep = 0;
    lexer lx = {origin, 0, NULL, err, errlen};
    bool ok = true;
    for (size_t off = 0; ok && off < len;) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
        char *line = xstrndup(text + off, n);
        off += n + 1;
        lx.line++;
        if (strlen(line) != n) {
            ok = fail(&lx, "NUL byte in line");
            free(line);
            break;
        }
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        lx.p = line;
        skip_ws(&lx);
        if (*lx.p == '#' || !*lx.p) {
            free(line);
            continue;
        }
        rule *r = xcalloc(1, sizeof *r);
        r->origin = xstrdup(origin);
        r->line = lx.line;
        ok = parse_line(&lx, r);
        free(line);
        if (!ok) {
            rule_free(r);
            break;
        }
        ssize_t prev = find_rule(rs, r->name);
        if (prev >= (ssize_t)first) {
            ok = fail(&lx, "duplicate rule name %s (first at line %u)", r->name, rs->r[prev]->line);
            rule_free(r);
            break;
        }
        if (prev >= 0) {
            /* Replaces an earlier origin's rule: applied only if the whole text parses. */
            replaced = xrealloc(replaced, (nrep + 1) * sizeof *replaced);
            slot = xrealloc(slot, (nrep + 1) * sizeof *slot);
            replaced[nrep] = r;
            slot[nrep++] = (size_t)prev;
            continue;
        }
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? rs->cap * 2 : 64;
            rs->r = xrealloc(rs->r, rs->cap * sizeof *rs->r);
        }
        rs->r[rs->n++] = r;
    }
    for (size_t i = 0; i < nrep; i++) {
        if (ok) {
            rule_free(rs->r[slot[i]]);
            rs->r[slot[i]] = replaced[i];
        } else {
            rule_free(replaced[i]);
        }
    }
    free(replaced);
    free(slot);
    if (!ok) {
        while (rs->n > first)
            rule_free(rs->r[--rs->n]);
    }
    return ok;
}

bool ruleset_load_file(ruleset *rs, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = file_read(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read rule file: %s", path, strerror(errno));
        return false;
    }
    bool ok = ruleset_parse(rs, path, text, len, err, errlen);
    free(text);
    return ok;
}

/* ---- compiling ------------------------------------------------------------------ */

static bool rule_fail(const rule *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool rule_fail(const rule *r, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%u: %s: %s", r->origin, r->line, r->name, msg);
    return false;
}

static bool has_non_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

static bool compile_pcre(ruleset *rs, rule *r, int db, char *err, size_t errlen)
{
    uint32_t opt = 0;
    if (r->flags & F_I)
        opt |= PCRE2_CASELESS;
    if (r->flags & F_S)
        opt |= PCRE2_DOTALL;
    if (r->flags & F_M)
        opt |= PCRE2_MULTILINE;
    if (db == T_BODY && has_non_ascii(r->re))
        opt |= PCRE2_UTF;
    int code;
    PCRE2_SIZE off;
    r->pcre = pcre2_compile((PCRE2_SPTR)r->re, PCRE2_ZERO_TERMINATED, opt, &code, &off, NULL);
    if (!r->pcre) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return rule_fail(r, err, errlen, "bad regex /%s/: %s at offset %zu", r->re,
                         (const char *)msg, (size_t)off);
    }
    pcre2_jit_compile(r->pcre, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
    rs->n_pcre++;
    return true;
}

/* One database for every Hyperscan-able regex of input kind `db`; a pattern it
 * refuses moves to PCRE2 and the rest is compiled again. */
static bool compile_db(ruleset *rs, int db, char *err, size_t errlen)
{
    const char **expr = xcalloc(rs->n + 1, sizeof *expr);
    unsigned *flags = xcalloc(rs->n + 1, sizeof *flags), *ids = xcalloc(rs->n + 1, sizeof *ids);
    bool ok = true;
    for (;;) {
        unsigned n = 0;
        for (size_t i = 0; i < rs->n; i++) {
            rule *r = rs->r[i];
            if (r->type != db || r->pcre)
                continue;
            unsigned f = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
            if (r->flags & F_I)
                f |= HS_FLAG_CASELESS;
            if (r->flags & F_S)
                f |= HS_FLAG_DOTALL;
            if (r->flags & F_M)
                f |= HS_FLAG_MULTILINE;
            if (db == T_BODY && has_non_ascii(r->re))
                f |= HS_FLAG_UTF8;
            expr[n] = r->re;
            flags[n] = f;
            ids[n++] = (unsigned)i;
        }
        if (!n)
            break;
        hs_compile_error_t *ce = NULL;
        hs_database_t *d = NULL;
        if (hs_compile_multi(expr, flags, ids, n, HS_MODE_BLOCK, NULL, &d, &ce) == HS_SUCCESS) {
            rs->db[db] = d;
            rs->n_hs += n;
            break;
        }
        int bad = ce ? ce->expression : -1;
        if (bad < 0 || (unsigned)bad >= n) {
            static const char *const kinds[NDB] = {"header",  "header ALL", "body",
                                                   "rawbody", "uri",        "full"};
            snprintf(err, errlen, "rules: cannot compile the %s patterns: %s", kinds[db],
                     ce ? ce->message : "unknown error");
            hs_free_compile_error(ce);
            ok = false;
            break;
        }
        hs_free_compile_error(ce);
        if (!compile_pcre(rs, rs->r[ids[bad]], db, err, errlen)) {
            ok = false;
            break;
        }
    }
    free(expr);
    free(flags);
    free(ids);
    return ok;
}

/* Resolves names in a meta program; false on an unknown name. */
static bool resolve_meta(ruleset *rs, rule *r, bool (*known)(const char *, void *), void *ctx,
                         char *err, size_t errlen)
{
    for (size_t i = 0; i < r->nprog; i++) {
        meta_op *o = &r->prog[i];
        if (o->op != OP_NAME)
            continue;
        ssize_t k = find_rule(rs, o->name);
        if (k >= 0) {
            o->op = OP_RULE;
            o->arg = (int)k;
        } else if (known && known(o->name, ctx)) {
            o->op = OP_EXT;
        } else {
            return rule_fail(r, err, errlen, "meta refers to unknown rule or symbol %s", o->name);
        }
    }
    return true;
}

/* Depth of a meta: 1 + the deepest meta it reads; -1 while visiting (a cycle). */
static bool meta_depth(ruleset *rs, size_t i, char *err, size_t errlen)
{
    rule *r = rs->r[i];
    if (r->depth > 0)
        return true;
    if (r->depth < 0)
        return rule_fail(r, err, errlen, "meta rules form a cycle through %s", r->name);
    r->depth = -1;
    int d = 1;
    for (size_t k = 0; k < r->nprog; k++) {
        if (r->prog[k].op != OP_RULE || rs->r[r->prog[k].arg]->type != T_META)
            continue;
        if (!meta_depth(rs, (size_t)r->prog[k].arg, err, errlen))
            return false;
        if (rs->r[r->prog[k].arg]->depth + 1 > d)
            d = rs->r[r->prog[k].arg]->depth + 1;
    }
    r->depth = d;
    return true;
}

static int by_depth(const void *a, const void *b, void *ctx)
{
    const ruleset *rs = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int dx = rs->r[x]->depth, dy = rs->r[y]->depth;
    return dx != dy ? dx - dy : (x > y) - (x < y);
}

static void sort_metas(ruleset *rs)
{
    /* insertion sort: a few dozen metas, stable, no qsort_r portability question */
    for (size_t i = 1; i < rs->nmetas; i++) {
        size_t v = rs->metas[i], j = i;
        for (; j > 0 && by_depth(&rs->metas[j - 1], &v, rs) > 0; j--)
            rs->metas[j] = rs->metas[j - 1];
        rs->metas[j] = v;
    }
}

static bool stack_ok(const rule *r)
{
    int depth = 0;
    for (size_t i = 0; i < r->nprog; i++) {
        int op = r->prog[i].op;
        if (op == OP_NUM || op == OP_RULE || op == OP_EXT)
            depth++;
        else if (op != OP_NOT)
            depth--;
        if (depth < 1 || depth > MAX_META_STACK)
            return false;
    }
    return depth == 1;
}

bool ruleset_compile(ruleset *rs, bool (*known)(const char *name, void *ctx), void *ctx, char *err,
                     size_t errlen)
{
    if (rs->compiled) {
        snprintf(err, errlen, "rules: rule set already compiled");
        return false;
    }
    rs->compiled = true;
    rs->metas = xcalloc(rs->n + 1, sizeof *rs->metas);
    for (size_t i = 0; i < rs->n; i++) {
        rule *r = rs->r[i];
        if (known && known(r->name, ctx))
            return rule_fail(r, err, errlen, "name already used by a symbol of another check");
        if (r->type == T_META) {
            if (!resolve_meta(rs, r, known, ctx, err, errlen))
                return false;
            if (!stack_ok(r))
                return rule_fail(r, err, errlen, "meta expression too large");
            rs->metas[rs->nmetas++] = i;
        }
        if (r->hname) {
            bool seen = false;
            for (size_t k = 0; k < rs->hnames.n; k++)
                seen |= strcasecmp(rs->hnames.v[k], r->hname) == 0;
            if (!seen)
                strlist_add(&rs->hnames, r->hname);
        }
    }
    for (size_t k = 0; k < rs->nmetas; k++)
        if (!meta_depth(rs, rs->metas[k], err, errlen))
            return false;
    sort_metas(rs);
    for (int d = 0; d < NDB; d++)
        if (!compile_db(rs, d, err, errlen))
            return false;
    for (int d = 0; d < NDB; d++) {
        if (rs->db[d] && hs_alloc_scratch(rs->db[d], &rs->proto) != HS_SUCCESS) {
            snprintf(err, errlen, "rules: cannot allocate Hyperscan scratch");
            return false;
        }
    }
    rs->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(rs->mctx, 200000);
    pcre2_set_depth_limit(rs->mctx, 5000);
    rs->syms = xcalloc(rs->n + 1, sizeof *rs->syms);
    for (size_t i = 0; i < rs->n; i++) {
        rule *r = rs->r[i];
        if (strncmp(r->name, "__", 2) != 0)
            rs->syms[rs->nsyms++] = (symbol_def){r->name, r->score, r->desc};
    }
    return true;
}

/* ---- matching ------------------------------------------------------------------- */

static pool_entry *entry_take(ruleset *rs)
{
    pthread_mutex_lock(&rs->lock);
    pool_entry *e = rs->free_entries;
    if (e)
        rs->free_entries = e->next;
    pthread_mutex_unlock(&rs->lock);
    if (e)
        return e;
    e = xcalloc(1, sizeof *e);
    if (rs->proto && hs_clone_scratch(rs->proto, &e->scratch) != HS_SUCCESS)
        log_panic("rules: hs_clone_scratch failed");
    e->md = pcre2_match_data_create(1, NULL);
    e->hit = xcalloc(rs->n + 1, 1);
    e->snip = xcalloc(rs->n + 1, sizeof *e->snip);
    e->stack = xcalloc(MAX_META_STACK + 1, sizeof *e->stack);
    return e;
}

static void entry_give(ruleset *rs, pool_entry *e)
{
    pthread_mutex_lock(&rs->lock);
    e->next = rs->free_entries;
    rs->free_entries = e;
    pthread_mutex_unlock(&rs->lock);
}

typedef struct {
    const ruleset *rs;
    pool_entry *e;
    const char *buf;
    size_t len;
    const char *field; /* header rules: the field scanned */
} scan_ctx;

static void snip(scan_ctx *c, size_t i, size_t from, size_t to)
{
    char *out = c->e->snip[i];
    size_t o = 0;
    if (c->field)
        o = (size_t)snprintf(out, sizeof c->e->snip[i], "%.20s: ", c->field);
    if (to > c->len)
        to = c->len;
    if (to - from > SNIP)
        from = to - SNIP;
    for (size_t k = from; k < to && o + 1 < sizeof c->e->snip[i]; k++) {
        unsigned char ch = (unsigned char)c->buf[k];
        out[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[o] = '\0';
}

static bool field_matches(const rule *r, const char *field)
{
    return !r->hname || (field && strcasecmp(r->hname, field) == 0);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from;
    (void)flags;
    scan_ctx *c = ctx;
    if (c->e->hit[id] || !field_matches(c->rs->r[id], c->field))
        return 0;
    c->e->hit[id] = 1;
    snip(c, id, to > SNIP ? (size_t)to - SNIP : 0, (size_t)to);
    return 0;
}

static void scan(const ruleset *rs, pool_entry *e, int db, const char *buf, size_t len,
                 const char *field)
{
    scan_ctx c = {rs, e, buf ? buf : "", buf ? len : 0, field};
    if (rs->db[db] && len <= UINT32_MAX)
        hs_scan(rs->db[db], c.buf, (unsigned)c.len, 0, e->scratch, on_match, &c);
    if (!rs->n_pcre)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        rule *r = rs->r[i];
        if (!r->pcre || r->type != db || e->hit[i] || !field_matches(r, field))
            continue;
        int rc = pcre2_match(r->pcre, (PCRE2_SPTR)c.buf, c.len, 0, 0, e->md, rs->mctx);
        if (rc < 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        e->hit[i] = 1;
        snip(&c, i, ov[0], ov[1]);
    }
}

static void match_headers(const ruleset *rs, pool_entry *e, const hdr_block *h)
{
    buf_t all = {0};
    for (size_t i = 0; h && i < h->n; i++) {
        const hdr_field *f = &h->f[i];
        buf_printf(&all, "%s: %s\n", f->name, f->value);
        for (size_t k = 0; k < rs->hnames.n; k++) {
            if (strcasecmp(rs->hnames.v[k], f->name) == 0) {
                scan(rs, e, T_HEADER, f->value, strlen(f->value), f->name);
                break;
            }
        }
    }
    if (rs->db[T_ALL] || rs->n_pcre)
        scan(rs, e, T_ALL, all.data, all.len, NULL);
    buf_free(&all);
    for (size_t i = 0; i < rs->n; i++) {
        rule *r = rs->r[i];
        if (r->type == T_EXISTS) {
            e->hit[i] = h && hdr_count(h, r->hname) > 0;
            snprintf(e->snip[i], sizeof e->snip[i], "%.40s present", r->hname);
        } else if (r->negate) {
            e->hit[i] = !e->hit[i]; /* an absent header matches nothing */
            snprintf(e->snip[i], sizeof e->snip[i], "%.40s does not match",
                     r->hname ? r->hname : "header");
        }
    }
}

static int eval_meta(const ruleset *rs, const rule *r, pool_entry *e, const rules_input *in)
{
    int *st = e->stack;
    size_t sp = 0;
    for (size_t i = 0; i < r->nprog; i++) {
        const meta_op *o = &r->prog[i];
        int b;
        switch (o->op) {
        case OP_NUM: st[sp++] = o->arg; continue;
        case OP_RULE: st[sp++] = e->hit[o->arg] ? 1 : 0; continue;
        case OP_EXT:
            st[sp++] = in->has_symbol && in->has_symbol(in->ctx, o->name) ? 1 : 0;
            continue;
        case OP_NOT: st[sp - 1] = !st[sp - 1]; continue;
        default: break;
        }
        b = st[--sp];
        int *a = &st[sp - 1];
        switch (o->op) {
        case OP_AND: *a = *a && b; break;
        case OP_OR: *a = *a || b; break;
        case OP_ADD: *a = *a + b > 100000 ? 100000 : *a + b; break;
        case OP_GE: *a = *a >= b; break;
        case OP_GT: *a = *a > b; break;
        case OP_LE: *a = *a <= b; break;
        case OP_LT: *a = *a < b; break;
        case OP_EQ: *a = *a == b; break;
        default: log_panic("rules: bad meta op %d", o->op);
        }
    }
    return sp == 1 ? st[0] : 0;
}

size_t ruleset_match(const ruleset *rs, const rules_input *in, rules_hit_fn hit, void *ctx)
{
    if (!rs->compiled || !rs->n)
        return 0;
    ruleset *mut = (ruleset *)rs; /* the pool is the one mutable part, under its lock */
    pool_entry *e = entry_take(mut);
    memset(e->hit, 0, rs->n);
    match_headers(rs, e, in->hdrs);
    scan(rs, e, T_BODY, in->text, in->text_len, NULL);
    for (size_t i = 0; i < in->nparts; i++)
        if (in->parts[i].is_text && in->parts[i].data)
            scan(rs, e, T_RAWBODY, (const char *)in->parts[i].data, in->parts[i].len, NULL);
    for (size_t i = 0; i < in->nurls; i++)
        scan(rs, e, T_URI, in->urls[i].url, strlen(in->urls[i].url), NULL);
    scan(rs, e, T_FULL, (const char *)in->raw, in->raw_len, NULL);
    for (size_t k = 0; k < rs->nmetas; k++) {
        size_t i = rs->metas[k];
        e->hit[i] = eval_meta(rs, rs->r[i], e, in) != 0;
        e->snip[i][0] = '\0';
    }
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (!e->hit[i] || strncmp(rs->r[i]->name, "__", 2) == 0)
            continue;
        hit(ctx, rs->r[i]->name, rs->r[i]->desc, e->snip[i]);
        n++;
    }
    entry_give(mut, e);
    return n;
}
