/* rspamd.c - one HTTP exchange with rspamd's /checkv2, and the reading of its reply.
 *
 * Each thread owns one libcurl easy handle (a pthread key frees it when the thread
 * exits); curl_easy_reset() between requests keeps its connection cache, so a worker
 * talks to rspamd over one kept-alive connection. The reply is read with the
 * project's bounded JSON reader (shared/json.h), taking only what is needed (score,
 * required_score, action, the symbols' scores) and skipping every other value: it
 * never reads past the buffer or nests without bound, because the reply comes from
 * another program and may be cut or garbled. */
#include "rspamd.h"
#include "json.h"
#include "util.h"

#include <curl/curl.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the JSON reply (shared/json.h's bounded reader) ---- */

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

static bool symbol_member(json_reader *j, const char *key, void *vctx)
{
    reply_ctx *c = vctx;
    if (strcmp(key, "score") == 0 || (strcmp(key, "metric_score") == 0 && !c->cur_scored)) {
        if (!json_rd_number(j, &c->cur.score))
            return false;
        c->cur_scored = true;
        return true;
    }
    return json_rd_skip(j);
}

static bool symbols_member(json_reader *j, const char *key, void *vctx)
{
    reply_ctx *c = vctx;
    memset(&c->cur, 0, sizeof c->cur);
    snprintf(c->cur.name, sizeof c->cur.name, "%s", key);
    c->cur_scored = false;
    if (!json_rd_peek(j, '{'))
        return json_rd_skip(j);
    if (!json_rd_object(j, symbol_member, c))
        return false;
    c->r->nsymbols++;
    keep_top(c->r, &c->cur);
    return true;
}

static bool reply_member(json_reader *j, const char *key, void *vctx)
{
    reply_ctx *c = vctx;
    if (strcmp(key, "score") == 0)
        return (c->has_score = json_rd_number(j, &c->r->score));
    if (strcmp(key, "required_score") == 0)
        return json_rd_number(j, &c->r->required);
    if (strcmp(key, "action") == 0)
        return (c->has_action = json_rd_string_into(j, c->r->action, sizeof c->r->action));
    if (strcmp(key, "error") == 0 && json_rd_peek(j, '"'))
        return json_rd_string_into(j, c->error, sizeof c->error);
    if (strcmp(key, "symbols") == 0 && json_rd_peek(j, '{'))
        return json_rd_object(j, symbols_member, c);
    return json_rd_skip(j);
}

bool rspamd_parse(const char *json, size_t len, rspamd_reply *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    reply_ctx c = {.r = r};
    if (!json) {
        snprintf(err, errlen, "rspamd sent no reply");
        return false;
    }
    json_reader j;
    json_rd_init(&j, json, len);
    if (!json_rd_object(&j, reply_member, &c)) {
        snprintf(err, errlen, "rspamd's reply is not a JSON object (%zu bytes)", len);
        return false;
    }
    if (!json_rd_end(&j)) {
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
