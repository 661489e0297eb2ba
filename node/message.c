/* message.c - the MIME model of a message: GMime 3 behind the msg_ interface.
 *
 * GMime is initialised once per process (pthread_once) and is then safe to use from
 * many threads on separate objects; each parse has its own parser options, whose
 * warning callback records what GMime found wrong. msg_parse() walks the tree once
 * (bounded by MSG_MAX_DEPTH and MSG_MAX_PARTS), decodes every leaf part, names its
 * true type (libmagic), converts text parts to UTF-8 (declared charset, else uchardet,
 * else windows-1252/latin1), runs the HTML parser over HTML parts, collects the URLs,
 * and then drops the GMime tree: the model owns copies of everything it returns
 * (small strings in one arena, decoded bytes and texts in their own blocks). */
#include "message.h"
#include "filetype.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <gmime/gmime.h>
#include <iconv.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uchardet/uchardet.h>

#define N_ANOM 12
#define DETAIL_MAX 200
#define POOL_CHUNK 16384
#define DETECT_PEEK (256 * 1024) /* bytes uchardet looks at */
#define META_PEEK 4096 /* bytes of HTML searched for a <meta> charset */
#define MAX_CLOSERS 1024 /* closing boundary lines remembered from the raw bytes */

typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    char data[];
} pool_chunk;

struct msg_model {
    msg_part *parts;
    size_t n, cap;
    size_t leaves; /* leaf parts seen, also beyond MSG_MAX_PARTS */
    bool broken;
    unsigned anom;
    const char *detail[N_ANOM];
    html_url *urls; /* text URLs, then HTML URLs (after the walk) */
    size_t n_urls;
    html_stats stats;
    char *text;
    size_t text_len;
    pool_chunk *pool;
};

/* What one parse needs while it walks; gone when msg_parse returns. */
typedef struct {
    msg_model *m;
    const uint8_t *raw;
    size_t len;
    GHashTable *closers; /* boundary strings of "--b--" lines in the raw bytes */
    GHashTable *seen; /* "from:url" of the URLs already listed */
    html_url *text_urls, *html_urls;
    size_t n_text, cap_text, n_html, cap_html;
    unsigned cur_part; /* part index the text URL callback files URLs under */
    bool truncated; /* GMime warned that the message ended inside a multipart */
} walk_ctx;

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
    g_mime_init();
}

/* ---- the arena of small strings ---- */

static char *pool_alloc(msg_model *m, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!m->pool || m->pool->cap - m->pool->used < n) {
        size_t cap = n > POOL_CHUNK / 4 ? n : POOL_CHUNK;
        pool_chunk *c = xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        if (m->pool && n > POOL_CHUNK / 4) { /* a big one: keep filling the current chunk */
            c->next = m->pool->next;
            m->pool->next = c;
        } else {
            c->next = m->pool;
            m->pool = c;
        }
        c->used = n;
        return c->data;
    }
    char *p = m->pool->data + m->pool->used;
    m->pool->used += n;
    return p;
}

static const char *pool_strndup(msg_model *m, const char *s, size_t n)
{
    char *d = pool_alloc(m, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static const char *pool_strdup(msg_model *m, const char *s)
{
    return s ? pool_strndup(m, s, strlen(s)) : "";
}

static const char *pool_lower(msg_model *m, const char *s)
{
    char *d = (char *)pool_strdup(m, s ? s : "");
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* ---- anomalies ---- */

static unsigned anom_index(unsigned flag)
{
    unsigned i = 0;
    while (i < N_ANOM && !(flag & (1u << i)))
        i++;
    return i;
}

/* Sets flag; the first occurrence keeps its detail (printable ASCII, bounded). */
static void anomaly(msg_model *m, unsigned flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void anomaly(msg_model *m, unsigned flag, const char *fmt, ...)
{
    unsigned i = anom_index(flag);
    m->anom |= flag;
    if (i >= N_ANOM || m->detail[i])
        return;
    char d[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof d, fmt, ap);
    va_end(ap);
    for (char *p = d; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    m->detail[i] = pool_strdup(m, d);
}

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
    walk_ctx *c = data;
    const char *it = item ? item : "";
    switch (code) {
    case GMIME_WARN_TRUNCATED_MESSAGE: c->truncated = true; break;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
        anomaly(c->m, MSG_ANOM_NO_BOUNDARY, "multipart/%.40s at byte %lld has no boundary", it,
                (long long)offset);
        break;
    case GMIME_WARN_INVALID_CONTENT_TYPE:
        anomaly(c->m, MSG_ANOM_BAD_CONTENT_TYPE,
                "Content-Type '%.80s' at byte %lld does not parse (read as "
                "application/octet-stream)",
                it, (long long)offset);
        break;
    case GMIME_CRIT_NESTING_OVERFLOW:
        anomaly(c->m, MSG_ANOM_TOO_DEEP, "GMime stopped at its nesting limit (byte %lld)",
                (long long)offset);
        break;
    default: break;
    }
}

/* ---- closing boundaries, found in the raw bytes ---- */

/* Remembers the boundary of every "--b--" line (one pass), so a multipart whose
 * closing line is missing can be named. */
static void find_closers(walk_ctx *c)
{
    c->closers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *p = (const char *)c->raw, *end = p + c->len;
    while (p < end && g_hash_table_size(c->closers) < MAX_CLOSERS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n >= 5 && n <= 256 && p[0] == '-' && p[1] == '-' && p[n - 1] == '-' && p[n - 2] == '-')
            g_hash_table_add(c->closers, g_strndup(p + 2, n - 4));
        p = le + 1;
    }
}

/* ---- text: charsets and conversion to UTF-8 ---- */

static bool has_8bit(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] & 0x80)
            return true;
    return false;
}

/* Charsets that agree with ASCII on 7-bit bytes (so pure ASCII needs no iconv). */
static bool ascii_compatible(const char *cs)
{
    static const char *const prefix[] = {"us-ascii", "ascii", "utf-8",    "utf8",  "iso-8859",
                                         "iso8859",  "latin", "windows-", "cp125", "koi8"};
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (str_iprefix(cs, prefix[i]))
            return true;
    return false;
}

/* A charset name we are willing to hand to iconv_open: no "//" suffixes, bounded. */
static bool sane_charset_name(const char *cs)
{
    size_t n = strlen(cs);
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)cs[i]) && !strchr("-_.:+", cs[i]))
            return false;
    return true;
}

typedef enum { CONV_OK, CONV_UNKNOWN, CONV_INVALID } conv_result;

/* Converts len bytes from charset cs to UTF-8 (strict: any invalid sequence fails).
 * On CONV_OK, *out is a malloc'd NUL-terminated string of *outlen bytes. */
static conv_result convert(const char *cs, const uint8_t *in, size_t len, char **out,
                           size_t *outlen)
{
    if (!sane_charset_name(cs))
        return CONV_UNKNOWN;
    const char *name = g_mime_charset_iconv_name(cs);
    iconv_t cd = iconv_open("UTF-8", name ? name : cs);
    if (cd == (iconv_t)-1)
        return CONV_UNKNOWN;
    size_t cap = len * 2 + 16, used = 0;
    char *buf = xmalloc(cap);
    char *ip = (char *)in;
    size_t ileft = len;
    conv_result r = CONV_OK;
    for (;;) {
        char *op = buf + used;
        size_t oleft = cap - used - 1;
        size_t rc =
            ileft ? iconv(cd, &ip, &ileft, &op, &oleft) : iconv(cd, NULL, NULL, &op, &oleft);
        int err = errno;
        used = (size_t)(op - buf);
        if (rc != (size_t)-1) {
            if (ileft == 0 && ip != NULL) {
                ip = NULL; /* now flush the shift state */
                continue;
            }
            break;
        }
        if (err == E2BIG) {
            cap *= 2;
            buf = xrealloc(buf, cap);
            continue;
        }
        r = CONV_INVALID;
        break;
    }
    iconv_close(cd);
    for (size_t i = 0; r == CONV_OK && i < used; i++)
        if (buf[i] == '\0')
            buf[i] = ' '; /* text is NUL-terminated: an embedded NUL would cut it */
    if (r == CONV_OK && !g_utf8_validate(buf, (gssize)used, NULL))
        r = CONV_INVALID; /* glibc's UTF-8 takes code points past U+10FFFF */
    if (r != CONV_OK) {
        free(buf);
        return r;
    }
    buf[used] = '\0';
    *out = buf;
    *outlen = used;
    return CONV_OK;
}

/* What uchardet makes of the bytes, lower case into out; "" when it cannot tell. */
static void detect_charset(const uint8_t *d, size_t n, char *out, size_t outlen)
{
    out[0] = '\0';
    uchardet_t ud = uchardet_new();
    if (!ud)
        return;
    if (uchardet_handle_data(ud, (const char *)d, n > DETECT_PEEK ? DETECT_PEEK : n) == 0) {
        uchardet_data_end(ud);
        const char *cs = uchardet_get_charset(ud);
        snprintf(out, outlen, "%s", cs ? cs : "");
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (strcmp(out, "ascii") == 0)
            snprintf(out, outlen, "us-ascii");
    }
    uchardet_delete(ud);
}

/* The charset an HTML part declares in a <meta>, lower case into out; false if none. */
static bool meta_charset(const uint8_t *d, size_t n, char *out, size_t outlen)
{
    size_t lim = n < META_PEEK ? n : META_PEEK;
    static const char key[] = "charset=";
    for (size_t i = 0; i + sizeof key - 1 < lim; i++) {
        if (g_ascii_strncasecmp((const char *)d + i, key, sizeof key - 1) != 0)
            continue;
        size_t j = i + sizeof key - 1, k = 0;
        while (j < lim && (d[j] == '"' || d[j] == '\'' || d[j] == ' '))
            j++;
        while (j < lim && k + 1 < outlen && (isalnum(d[j]) || (d[j] && strchr("-_.:", d[j]))))
            out[k++] = (char)tolower(d[j++]);
        out[k] = '\0';
        return k > 0;
    }
    return false;
}

/* Fills p->text from p->data: declared charset when the bytes are valid in it, else
 * the one uchardet finds, else UTF-8, windows-1252 and latin1 (which never fails). */
static void part_text(walk_ctx *c, msg_part *p, const char *declared)
{
    msg_model *m = c->m;
    char *out = NULL;
    size_t outlen = 0;
    bool eight = has_8bit(p->data, p->len);
    const char *label = p->content_type;
    if (*declared) {
        if (!eight && ascii_compatible(declared)) {
            p->text_charset = pool_lower(m, declared);
            goto ascii;
        }
        conv_result r = convert(declared, p->data, p->len, &out, &outlen);
        if (r == CONV_OK) {
            p->text_charset = pool_lower(m, declared);
            goto done;
        }
        char found[64];
        detect_charset(p->data, p->len, found, sizeof found);
        anomaly(m, MSG_ANOM_BAD_CHARSET, "part %u (%s): charset '%.40s' %s; detected '%s'",
                p->index, label, declared,
                r == CONV_UNKNOWN ? "is unknown" : "does not fit the bytes",
                *found ? found : "nothing");
    } else {
        char meta[48];
        if (p->is_html && meta_charset(p->data, p->len, meta, sizeof meta) &&
            (eight || !ascii_compatible(meta)) &&
            convert(meta, p->data, p->len, &out, &outlen) == CONV_OK) {
            p->text_charset = pool_strdup(m, meta);
            goto done;
        }
        bool esc = p->len && memchr(p->data, 0x1b, p->len) != NULL; /* ISO-2022-* is 7-bit */
        if (!eight && !esc) {
            p->text_charset = "us-ascii";
            goto ascii;
        }
        if (eight) {
            char found[64];
            detect_charset(p->data, p->len, found, sizeof found);
            anomaly(m, MSG_ANOM_NO_CHARSET,
                    "part %u (%s): 8-bit text without a charset; "
                    "detected '%s'",
                    p->index, label, *found ? found : "nothing");
        }
    }
    char found[64];
    detect_charset(p->data, p->len, found, sizeof found);
    if (*found && convert(found, p->data, p->len, &out, &outlen) == CONV_OK) {
        p->text_charset = pool_strdup(m, found);
        goto done;
    }
    static const char *const last[] = {"utf-8", "windows-1252", "iso-8859-1"};
    for (size_t i = 0; i < sizeof last / sizeof *last; i++) {
        if (convert(last[i], p->data, p->len, &out, &outlen) == CONV_OK) {
            p->text_charset = last[i];
            goto done;
        }
    }
    /* iconv without latin1: keep the ASCII bytes */
    out = xmalloc(p->len + 1);
    for (size_t i = 0; i < p->len; i++)
        out[i] = (p->data[i] & 0x80) || !p->data[i] ? '?' : (char)p->data[i];
    out[p->len] = '\0';
    outlen = p->len;
    p->text_charset = "us-ascii";
    goto done;
ascii:
    out = xmalloc(p->len + 1);
    for (size_t i = 0; i < p->len; i++)
        out[i] = p->data[i] ? (char)p->data[i] : ' ';
    out[p->len] = '\0';
    outlen = p->len;
done:
    p->text = out;
    p->text_len = outlen;
}

/* ---- URLs ---- */

static void push_url(walk_ctx *c, bool html, const char *url, const char *host, const char *text,
                     unsigned from, unsigned flags, unsigned part)
{
    size_t *n = html ? &c->n_html : &c->n_text, *cap = html ? &c->cap_html : &c->cap_text;
    html_url **v = html ? &c->html_urls : &c->text_urls;
    if (*n >= MSG_MAX_URLS)
        return;
    char *key = g_strdup_printf("%u:%s", from, url);
    if (!g_hash_table_add(c->seen, key))
        return; /* already listed (the table owns and freed key) */
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    html_url *u = &(*v)[(*n)++];
    u->url = pool_strdup(c->m, url);
    u->host = pool_strdup(c->m, host);
    u->text = pool_strdup(c->m, text);
    u->from = from;
    u->flags = flags;
    u->part = part;
}

static bool text_url(const char *url, size_t n, void *ctx)
{
    walk_ctx *c = ctx;
    if (c->n_text >= MSG_MAX_URLS)
        return false;
    char *u = g_strndup(url, n);
    char host[512];
    host[0] = '\0';
    unsigned flags = url_parse(u, host, sizeof host);
    push_url(c, false, u, host, "", URL_FROM_TEXT, flags, c->cur_part);
    g_free(u);
    return true;
}

static bool has_html_name(const char *name)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    return dot &&
           (g_ascii_strcasecmp(dot, ".htm") == 0 || g_ascii_strcasecmp(dot, ".html") == 0 ||
            g_ascii_strcasecmp(dot, ".shtml") == 0 || g_ascii_strcasecmp(dot, ".xhtml") == 0);
}

/* HTML parts: visible text, links and counts; the text replaces the markup. */
static void part_html(walk_ctx *c, msg_part *p)
{
    html_doc *d = html_parse(p->text, p->text_len);
    size_t n;
    const char *t = html_text(d, &n);
    char *vis = xmalloc(n + 1);
    memcpy(vis, t ? t : "", t ? n : 0);
    vis[t ? n : 0] = '\0';
    if (!g_utf8_validate(vis, -1, NULL)) {
        char *ok = g_utf8_make_valid(vis, -1);
        free(vis);
        vis = xstrdup(ok);
        g_free(ok);
    }
    free((char *)p->text);
    p->text = vis;
    p->text_len = strlen(vis);

    const html_url *u;
    size_t nu = html_urls(d, &u);
    for (size_t i = 0; i < nu; i++)
        push_url(c, true, u[i].url ? u[i].url : "", u[i].host ? u[i].host : "",
                 u[i].text ? u[i].text : "", u[i].from, u[i].flags, p->index);

    const html_stats *s = html_get_stats(d);
    html_stats *a = &c->m->stats;
    a->forms += s->forms;
    a->password_fields += s->password_fields;
    a->inputs += s->inputs;
    a->scripts += s->scripts;
    a->event_handlers += s->event_handlers;
    a->iframes += s->iframes;
    a->hidden_text += s->hidden_text;
    a->tiny_text += s->tiny_text;
    a->meta_refresh += s->meta_refresh;
    a->base_href += s->base_href;
    a->images += s->images;
    a->text_len += s->text_len;
    a->hidden_len += s->hidden_len;
    a->parse_error = a->parse_error || s->parse_error;
    html_free(&d);
}

/* ---- leaf parts ---- */

static msg_part *new_part(msg_model *m)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->parts = xrealloc(m->parts, m->cap * sizeof *m->parts);
    }
    msg_part *p = &m->parts[m->n];
    memset(p, 0, sizeof *p);
    p->index = (unsigned)m->n++;
    p->filename = p->content_type = p->charset = p->detected_type = "";
    return p;
}

static void set_detected(msg_model *m, msg_part *p)
{
    char t[128];
    p->detected_type = pool_strdup(m, filetype_detect(p->data, p->len, t, sizeof t));
}

/* Checks the transfer-encoded bytes of a base64 or quoted-printable part. */
static bool encoding_ok(GMimeStream *s, GMimeContentEncoding enc)
{
    char buf[4096];
    size_t sig = 0;
    int pending = 0; /* QP: hex digits still expected after '=' (-1: soft break) */
    bool ok = true;
    g_mime_stream_reset(s);
    for (;;) {
        ssize_t n = g_mime_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && ok; i++) {
            unsigned char ch = (unsigned char)buf[i];
            if (enc == GMIME_CONTENT_ENCODING_BASE64) {
                if (isalnum(ch) || ch == '+' || ch == '/')
                    sig++;
                else if (ch != '=' && !isspace(ch))
                    ok = false;
                continue;
            }
            if (pending == -1) { /* after '=': a soft line break, or hex */
                if (ch == ' ' || ch == '\t' || ch == '\r')
                    continue;
                if (ch == '\n') {
                    pending = 0;
                    continue;
                }
                pending = 2;
            }
            if (pending > 0) {
                if (!isxdigit(ch))
                    ok = false;
                pending = pending == 2 && isxdigit(ch) ? 1 : 0;
                if (pending == 1 && !isxdigit(ch))
                    ok = false;
                continue;
            }
            if (ch == '=')
                pending = -1;
        }
        if (!ok)
            break;
    }
    g_mime_stream_reset(s);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 && sig % 4 == 1)
        ok = false; /* a lone sextet cannot be a byte */
    return ok;
}

static void decode(walk_ctx *c, GMimePart *gp, msg_part *p)
{
    GMimeDataWrapper *w = g_mime_part_get_content(gp);
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(gp);
    const char *cte = g_mime_object_get_header(GMIME_OBJECT(gp), "Content-Transfer-Encoding");
    if (cte && enc == GMIME_CONTENT_ENCODING_DEFAULT) {
        char *t = g_strstrip(g_strdup(cte));
        if (*t)
            anomaly(c->m, MSG_ANOM_BAD_CTE,
                    "part %u (%s): unknown Content-Transfer-Encoding '%.40s' (read as is)",
                    p->index, p->content_type, t);
        g_free(t);
    }
    if (!w)
        return;
    GMimeStream *raw = g_mime_data_wrapper_get_stream(w);
    if (raw &&
        (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) &&
        !encoding_ok(raw, enc))
        anomaly(c->m, MSG_ANOM_BAD_CTE, "part %u (%s): broken %s", p->index, p->content_type,
                enc == GMIME_CONTENT_ENCODING_BASE64 ? "base64" : "quoted-printable");
    GMimeStream *out = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(w, out);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
    if (ba && ba->len) {
        uint8_t *d = xmalloc(ba->len);
        memcpy(d, ba->data, ba->len);
        p->data = d;
        p->len = ba->len;
    }
    g_object_unref(out);
}

static void add_leaf(walk_ctx *c, GMimeObject *o, unsigned depth)
{
    msg_model *m = c->m;
    m->leaves++;
    if (m->n >= MSG_MAX_PARTS) {
        anomaly(m, MSG_ANOM_TOO_MANY_PARTS, "more than %d leaf parts (the rest not listed)",
                MSG_MAX_PARTS);
        return;
    }
    GMimePart *gp = GMIME_PART(o);
    msg_part *p = new_part(m);
    p->depth = depth;
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    char *mt = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    p->content_type = pool_lower(m, mt ? mt : "application/octet-stream");
    g_free(mt);
    const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
    p->charset = pool_lower(m, cs);
    p->filename = pool_strdup(m, g_mime_part_get_filename(gp));
    const char *disp = g_mime_object_get_disposition(o);
    p->attachment = disp && g_ascii_strcasecmp(disp, "attachment") == 0;
    bool declared = g_mime_object_get_header(o, "Content-Type") != NULL;
    bool plain = strcmp(p->content_type, "text/plain") == 0;
    p->is_html = strcmp(p->content_type, "text/html") == 0;
    p->is_text = !p->attachment && (plain || p->is_html || !declared);
    decode(c, gp, p);
    set_detected(m, p);
    /* An attached HTML file is a favourite phishing vehicle (a login form that works
     * offline): its links, forms and scripts count like the body's. */
    if (p->attachment && !p->is_html && has_html_name(p->filename) &&
        strncmp(p->detected_type, "text/", 5) == 0)
        p->is_html = true;
    if (!p->is_text && !(p->attachment && p->is_html))
        return;
    part_text(c, p, p->charset);
    if (p->is_html) {
        part_html(c, p);
        return;
    }
    c->cur_part = p->index;
    text_find_urls(p->text, p->text_len, text_url, c);
}

/* The content GMime put in a multipart's prologue because it had no boundary, as a
 * pseudo-part so the scanners still see it. */
static void add_orphan_text(walk_ctx *c, const char *s, unsigned depth)
{
    msg_model *m = c->m;
    if (!s || !*s || m->n >= MSG_MAX_PARTS)
        return;
    m->leaves++;
    msg_part *p = new_part(m);
    p->depth = depth;
    p->content_type = "application/octet-stream";
    size_t n = strlen(s);
    uint8_t *d = xmalloc(n);
    memcpy(d, s, n);
    p->data = d;
    p->len = n;
    set_detected(m, p);
}

static size_t nonspace(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += !isspace((unsigned char)*s);
    return n;
}

static void walk(walk_ctx *c, GMimeObject *o, unsigned depth);

static void walk_multipart(walk_ctx *c, GMimeMultipart *mp, unsigned depth)
{
    msg_model *m = c->m;
    GMimeObject *o = GMIME_OBJECT(mp);
    char *mt = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(o));
    char label[64];
    snprintf(label, sizeof label, "%.40s", mt ? mt : "multipart");
    g_free(mt);
    if (depth >= MSG_MAX_DEPTH) {
        anomaly(m, MSG_ANOM_TOO_DEEP, "%s nested deeper than %d levels (not walked)", label,
                MSG_MAX_DEPTH);
        return;
    }
    int count = g_mime_multipart_get_count(mp);
    /* (not g_mime_multipart_get_boundary: it invents one when there is none) */
    const char *boundary = g_mime_object_get_content_type_parameter(o, "boundary");
    const char *prologue = g_mime_multipart_get_prologue(mp);
    bool no_boundary = !boundary || !*boundary;
    if (no_boundary) {
        anomaly(m, MSG_ANOM_NO_BOUNDARY, "%s at depth %u has no boundary parameter", label, depth);
        add_orphan_text(c, prologue, depth + 1);
    } else if (count == 0) {
        anomaly(m, MSG_ANOM_EMPTY_MULTIPART, "%s (boundary '%.60s') holds no parts", label,
                boundary ? boundary : "");
    }
    if (!no_boundary && boundary && count > 0 && !g_hash_table_contains(c->closers, boundary))
        anomaly(m, MSG_ANOM_MISSING_END, "%s: closing boundary '--%.60s--' is missing", label,
                boundary);
    if (!no_boundary && nonspace(prologue) >= MSG_PREAMBLE_MAX)
        anomaly(m, MSG_ANOM_PREAMBLE_TEXT, "%s: %zu bytes of text before the first boundary", label,
                strlen(prologue));
    for (int i = 0; i < count; i++) {
        GMimeObject *child = g_mime_multipart_get_part(mp, i);
        if (child)
            walk(c, child, depth + 1);
    }
}

static void walk(walk_ctx *c, GMimeObject *o, unsigned depth)
{
    if (GMIME_IS_MULTIPART(o)) {
        walk_multipart(c, GMIME_MULTIPART(o), depth);
    } else if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        GMimeObject *body = inner ? g_mime_message_get_mime_part(inner) : NULL;
        if (!body)
            return;
        if (depth >= MSG_MAX_DEPTH) {
            anomaly(c->m, MSG_ANOM_TOO_DEEP,
                    "attached message nested deeper than %d levels (not walked)", MSG_MAX_DEPTH);
            return;
        }
        walk(c, body, depth + 1);
    } else if (GMIME_IS_PART(o)) {
        add_leaf(c, o, depth);
    }
}

/* ---- the model ---- */

/* A message GMime could not make sense of: one pseudo-part with the raw bytes. */
static void raw_part(msg_model *m, const uint8_t *raw, size_t len)
{
    m->broken = true;
    anomaly(m, MSG_ANOM_UNPARSABLE, "%zu bytes that do not parse as a message (scanned raw)", len);
    m->leaves = 1;
    msg_part *p = new_part(m);
    p->content_type = "application/octet-stream";
    if (len) {
        uint8_t *d = xmalloc(len);
        memcpy(d, raw, len);
        p->data = d;
        p->len = len;
    }
    set_detected(m, p);
}

static void collect(walk_ctx *c)
{
    msg_model *m = c->m;
    size_t n = c->n_text + c->n_html;
    if (n > MSG_MAX_URLS)
        n = MSG_MAX_URLS;
    if (n) {
        m->urls = xmalloc(n * sizeof *m->urls);
        size_t t = c->n_text < n ? c->n_text : n;
        if (t)
            memcpy(m->urls, c->text_urls, t * sizeof *m->urls);
        if (n > t)
            memcpy(m->urls + t, c->html_urls, (n - t) * sizeof *m->urls);
    }
    m->n_urls = n;

    buf_t b = {0};
    for (size_t i = 0; i < m->n; i++) {
        const msg_part *p = &m->parts[i];
        if (!p->text || !p->text_len)
            continue;
        if (b.len)
            buf_append(&b, "\n", 1);
        buf_append(&b, p->text, p->text_len);
    }
    m->text = b.data;
    m->text_len = b.len;
}

static void check_mime_version(walk_ctx *c, GMimeMessage *gm, GMimeObject *body)
{
    GMimeObject *o = GMIME_OBJECT(gm);
    if (g_mime_object_get_header(o, "MIME-Version") || !GMIME_IS_MULTIPART(body))
        return;
    char *mt = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(body));
    anomaly(c->m, MSG_ANOM_NO_MIME_VERSION, "Content-Type %.40s without MIME-Version",
            mt ? mt : "multipart");
    g_free(mt);
}

msg_model *msg_parse(const uint8_t *raw, size_t len)
{
    pthread_once(&gmime_once, gmime_start);
    msg_model *m = xcalloc(1, sizeof *m);
    walk_ctx c = {.m = m, .raw = raw, .len = len};
    GMimeParserOptions *opt = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(opt, on_warning, &c);
    GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)raw, len);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *gm = g_mime_parser_construct_message(p, opt);
    g_object_unref(p);
    g_object_unref(s);
    GMimeHeaderList *hl = gm ? g_mime_object_get_header_list(GMIME_OBJECT(gm)) : NULL;
    GMimeObject *body = gm ? g_mime_message_get_mime_part(gm) : NULL;
    if (!gm || !hl || g_mime_header_list_get_count(hl) == 0) {
        raw_part(m, raw, len);
    } else if (body) {
        find_closers(&c);
        c.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        check_mime_version(&c, gm, body);
        walk(&c, body, 0);
        if (c.truncated)
            anomaly(m, MSG_ANOM_MISSING_END, "the message ends inside a multipart");
        collect(&c);
    }
    if (c.closers)
        g_hash_table_destroy(c.closers);
    if (c.seen)
        g_hash_table_destroy(c.seen);
    free(c.text_urls);
    free(c.html_urls);
    if (gm)
        g_object_unref(gm);
    g_mime_parser_options_free(opt);
    return m;
}

void msg_destroy(msg_model **mp)
{
    msg_model *m = *mp;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free((void *)m->parts[i].data);
        free((char *)m->parts[i].text);
    }
    free(m->parts);
    free(m->urls);
    free(m->text);
    for (pool_chunk *c = m->pool, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(m);
    *mp = NULL;
}

size_t msg_parts(const msg_model *m, const msg_part **parts)
{
    *parts = m->parts;
    return m->n;
}

size_t msg_leaf_count(const msg_model *m)
{
    return m->leaves;
}

bool msg_broken(const msg_model *m)
{
    return m->broken;
}

unsigned msg_anomalies(const msg_model *m)
{
    return m->anom;
}

const char *msg_anomaly_detail(const msg_model *m, unsigned flag)
{
    unsigned i = anom_index(flag);
    return i < N_ANOM && m->detail[i] ? m->detail[i] : "";
}

size_t msg_urls(const msg_model *m, const html_url **urls)
{
    *urls = m->urls;
    return m->n_urls;
}

const html_stats *msg_html(const msg_model *m)
{
    return &m->stats;
}

const char *msg_text(const msg_model *m, size_t *len)
{
    *len = m->text_len;
    return m->text ? m->text : "";
}
