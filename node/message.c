/* message.c - GMime 3 behind the msg_ interface.
 *
 * GMime is initialised once per process (pthread_once) and is then safe to use from
 * many threads on separate objects. msg_parse() wraps the bytes in a memory stream,
 * lets GMime's parser build the tree, then walks it once, copying what the checks
 * read (file names, declared types) into the model, so callers never touch GObject
 * reference counting. The GMimeMessage stays in the model for later checks. */
#include "message.h"
#include "util.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct msg_model {
    GMimeMessage *gm;
    msg_part *parts;
    size_t n, cap;
    bool broken;
};

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
    g_mime_init();
}

static char *lower_dup(const char *s)
{
    char *d = xstrdup(s ? s : "");
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static void add_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    msg_model *m = data;
    if (!GMIME_IS_PART(part) || m->n >= MSG_MAX_PARTS)
        return;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->parts = xrealloc(m->parts, m->cap * sizeof *m->parts);
    }
    msg_part *p = &m->parts[m->n++];
    const char *fn = g_mime_part_get_filename(GMIME_PART(part));
    p->filename = xstrdup(fn ? fn : "");
    char *ct = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(part));
    p->content_type = lower_dup(ct);
    g_free(ct);
    const char *disp = g_mime_object_get_disposition(part);
    p->attachment = disp && g_ascii_strcasecmp(disp, "attachment") == 0;
}

msg_model *msg_parse(const uint8_t *raw, size_t len)
{
    pthread_once(&gmime_once, gmime_start);
    msg_model *m = xcalloc(1, sizeof *m);
    GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)raw, len);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    m->gm = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    g_object_unref(s);
    if (!m->gm) {
        m->broken = true;
        return m;
    }
    g_mime_message_foreach(m->gm, add_part, m);
    return m;
}

void msg_destroy(msg_model **mp)
{
    msg_model *m = *mp;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free((char *)m->parts[i].filename);
        free((char *)m->parts[i].content_type);
    }
    free(m->parts);
    if (m->gm)
        g_object_unref(m->gm);
    free(m);
    *mp = NULL;
}

size_t msg_parts(const msg_model *m, const msg_part **parts)
{
    *parts = m->parts;
    return m->n;
}

bool msg_broken(const msg_model *m)
{
    return m->broken;
}

/* (interim until the full model lands) */
unsigned msg_anomalies(const msg_model *m)
{
    return m->broken ? MSG_ANOM_UNPARSABLE : 0;
}

size_t msg_urls(const msg_model *m, const html_url **urls)
{
    (void)m;
    *urls = NULL;
    return 0;
}

const html_stats *msg_html(const msg_model *m)
{
    (void)m;
    static const html_stats none;
    return &none;
}

const char *msg_text(const msg_model *m, size_t *len)
{
    (void)m;
    *len = 0;
    return "";
}
