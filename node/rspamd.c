/* rspamd.c - one HTTP exchange with rspamd's /checkv2, and the reading of its reply.
 *
 * Each thread owns one libcurl easy handle (a pthread key frees it when the thread
 * exits); curl_easy_reset() between requests keeps its connection cache, so a worker
 * talks to rspamd over one kept-alive connection. The reply is read by a small
 * recursive-descent JSON reader that knows only what it needs (score,
 * required_score, action, the symbols' scores) and skips every other value; it is
 * bounded in depth and never reads past the buffer, because the reply comes from
 * another program and may be cut or garbled. */
#include "rspamd.h"
#include "util.h"

#include <curl/curl.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH 32

/* ---- the JSON reply ---- */

typedef struct {
    const char *p, *end;
    int depth;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool lit(jp *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* A string into out (truncated to outlen-1 bytes, escapes decoded; \u as '?' beyond
 * ASCII); out may be NULL to skip. */
static bool str(jp *j, char *out, size_t outlen)
{
    size_t n = 0;
    if (!lit(j, '"'))
        return false;
    while (j->p < j->end) {
        char c = *j->p++;
        if (c == '"') {
            if (out)
                out[n] = '\0';
            return true;
        }
        if ((unsigned char)c < 0x20)
            return false;
        if (c == '\\') {
            if (j->p >= j->end)
                return false;
            c = *j->p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case '"':
            case '\\':
            case '/': break;
            case 'u': {
                if (j->end - j->p < 4)
                    return false;
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *j->p++;
                    int d = h >= '0' && h <= '9'   ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                   : -1;
                    if (d < 0)
                        return false;
                    v = v * 16 + (unsigned)d;
                }
                c = v >= 0x20 && v < 0x7f ? (char)v : '?';
                break;
            }
            default: return false;
            }
        }
        if (out && n + 1 < outlen)
            out[n++] = c;
    }
    return false;
}

static bool num(jp *j, double *d)
{
    ws(j);
    char tmp[64];
    size_t n = 0;
    while (j->p + n < j->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", j->p[n]))
        n++;
    if (n == 0 || n == sizeof tmp - 1)
        return false;
    memcpy(tmp, j->p, n);
    tmp[n] = '\0';
    char *e;
    double v = strtod(tmp, &e);
    if (e != tmp + n || !isfinite(v))
        return false;
    j->p += n;
    *d = v;
    return true;
}

static bool word(jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool skip(jp *j);

/* Walks an object, calling member() for each key with the reader on its value; a
 * member() that returns false fails the walk. */
typedef bool (*member_fn)(jp *j, const char *key, void *ctx);

static bool object(jp *j, member_fn member, void *ctx)
{
    if (!lit(j, '{') || ++j->depth > JSON_DEPTH)
        return false;
    if (!lit(j, '}')) {
        do {
            char key[128];
            if (!str(j, key, sizeof key) || !lit(j, ':'))
                return false;
            if (!(member ? member(j, key, ctx) : skip(j)))
                return false;
        } while (lit(j, ','));
        if (!lit(j, '}'))
            return false;
    }
    j->depth--;
    return true;
}

static bool skip(jp *j)
{
    ws(j);
    if (j->p >= j->end)
        return false;
    double d;
    switch (*j->p) {
    case '{': return object(j, NULL, NULL);
    case '[':
        j->p++;
        if (++j->depth > JSON_DEPTH)
            return false;
        if (!lit(j, ']')) {
            do {
                if (!skip(j))
                    return false;
            } while (lit(j, ','));
            if (!lit(j, ']'))
                return false;
        }
        j->depth--;
        return true;
    case '"': return str(j, NULL, 0);
    case 't': return word(j, "true");
    case 'f': return word(j, "false");
    case 'n': return word(j, "null");
    default: return num(j, &d);
    }
}

typedef struct {
    rspamd_reply *r;
    bool has_score, has_action;
    char error[200];
    rspamd_symbol cur;
    bool cur_scored;
} reply_ctx;

static void keep_top(rspamd_reply *r, const rspamd_symbol *s)
{
    size_t i = r->ntop;
    if (i == RSPAMD_TOP) {
        if (fabs(s->score) <= fabs(r->top[RSPAMD_TOP - 1].score))
            return;
        i--;
    } else {
        r->ntop++;
    }
    while (i > 0 && fabs(r->top[i - 1].score) < fabs(s->score)) {
        r->top[i] = r->top[i - 1];
        i--;
    }
    r->top[i] = *s;
}

static bool symbol_member(jp *j, const char *key, void *vctx)
{
    reply_ctx *c = vctx;
    if (strcmp(key, "score") == 0 || (strcmp(key, "metric_score") == 0 && !c->cur_scored)) {
        if (!num(j, &c->cur.score))
            return false;
        c->cur_scored = true;
        return true;
    }
    return skip(j);
}

static bool symbols_member(jp *j, const char *key, void *vctx)
{
    reply_ctx *c = vctx;
    memset(&c->cur, 0, sizeof c->cur);
    snprintf(c->cur.name, sizeof c->cur.name, "%s", key);
    c->cur_scored = false;
    ws(j);
    if (j->p < j->end && *j->p != '{')
        return skip(j);
    if (!object(j, symbol_member, c))
        return false;
    c->r->nsymbols++;
    keep_top(c->r, &c->cur);
    return true;
}

static bool reply_member(jp *j, const char *key, void *vctx)
{
    reply_ctx *c = vctx;
    ws(j);
    if (strcmp(key, "score") == 0)
        return (c->has_score = num(j, &c->r->score));
    if (strcmp(key, "required_score") == 0)
        return num(j, &c->r->required);
    if (strcmp(key, "action") == 0)
        return (c->has_action = str(j, c->r->action, sizeof c->r->action));
    if (strcmp(key, "error") == 0 && j->p < j->end && *j->p == '"')
        return str(j, c->error, sizeof c->error);
    if (strcmp(key, "symbols") == 0 && j->p < j->end && *j->p == '{')
        return object(j, symbols_member, c);
    return skip(j);
}

bool rspamd_parse(const char *json, size_t len, rspamd_reply *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    reply_ctx c = {.r = r};
    if (!json) {
        snprintf(err, errlen, "rspamd sent no reply");
        return false;
    }
    jp j = {json, json + len, 0};
    if (!object(&j, reply_member, &c)) {
        snprintf(err, errlen, "rspamd's reply is not a JSON object (%zu bytes)", len);
        return false;
    }
    ws(&j);
    if (j.p != j.end) {
        snprintf(err, errlen, "rspamd's reply has data after its JSON object");
        return false;
    }
    if (c.error[0]) {
        snprintf(err, errlen, "rspamd: %s", c.error);
        return false;
    }
    if (!c.has_score || !c.has_action) {
        snprintf(err, errlen, "rspamd's reply has no %s", c.has_score ? "action" : "score");
        return false;
    }
    return true;
}

void rspamd_describe(const rspamd_reply *r, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s, score %.2f/%.2f", r->action, r->score, r->required);
    for (size_t i = 0; i < r->ntop && n > 0 && (size_t)n < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%s%s(%.2f)", i ? ", " : ": ", r->top[i].name,
                      r->top[i].score);
    if (r->nsymbols > r->ntop && n > 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, " and %zu more", r->nsymbols - r->ntop);
}

/* ---- HTTP ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t curl_key;

static void curl_free_handle(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_key_create(&curl_key, curl_free_handle) != 0)
        abort();
}

static CURL *thread_curl(void)
{
    pthread_once(&curl_once, curl_setup);
    CURL *h = pthread_getspecific(curl_key);
    if (h) {
        curl_easy_reset(h); /* options only: the kept-alive connection stays */
        return h;
    }
    h = curl_easy_init();
    if (h)
        pthread_setspecific(curl_key, h);
    return h;
}

void rspamd_thread_done(void)
{
    pthread_once(&curl_once, curl_setup);
    CURL *h = pthread_getspecific(curl_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(curl_key, NULL);
    }
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    buf_t *b = ctx;
    if (b->len + size * n > RSPAMD_REPLY_MAX)
        return 0; /* curl fails the transfer */
    buf_append(b, p, size * n);
    return size * n;
}

/* Adds "Name: value" unless the value is empty or holds bytes a header cannot. */
static struct curl_slist *header(struct curl_slist *l, const char *name, const char *v)
{
    if (!v || !*v || strlen(v) > 900)
        return l;
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return l;
    char line[1024];
    snprintf(line, sizeof line, "%s: %s", name, v);
    struct curl_slist *n = curl_slist_append(l, line);
    return n ? n : l;
}

static struct curl_slist *envelope_headers(const Bulwark__Envelope *env, const char *job_id)
{
    struct curl_slist *l = header(NULL, "Expect", " "); /* no 100-continue round trip */
    l = header(l, "Queue-Id", job_id);
    if (!env)
        return l;
    l = header(l, "IP", env->client_ip);
    l = header(l, "Hostname", env->client_name);
    l = header(l, "Helo", env->helo);
    l = header(l, "From", env->mail_from);
    l = header(l, "User", env->auth_user);
    for (size_t i = 0; i < env->n_rcpt; i++)
        l = header(l, "Rcpt", env->rcpt[i]);
    return l;
}

bool rspamd_scan(const char *url, int64_t timeout_ms, const char *job_id,
                 const Bulwark__Envelope *env, const uint8_t *raw, size_t len, rspamd_reply *r,
                 char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    CURL *h = thread_curl();
    if (!h) {
        snprintf(err, errlen, "libcurl: cannot make a handle");
        return false;
    }
    char endpoint[1024];
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/')
        ul--;
    snprintf(endpoint, sizeof endpoint, "%.*s/checkv2", (int)ul, url);
    buf_t body = {0};
    struct curl_slist *hdrs = envelope_headers(env, job_id);
    curl_easy_setopt(h, CURLOPT_URL, endpoint);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)raw);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    bool ok = false;
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s: %s", endpoint, curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(err, errlen, "%s: HTTP status %ld", endpoint, status);
    else
        ok = rspamd_parse(body.data, body.len, r, err, errlen);
    buf_free(&body);
    return ok;
}
