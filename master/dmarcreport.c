/* dmarcreport.c - building, gzipping and mailing DMARC aggregate reports.
 *
 * The XML is written by hand in the order the schema's sequences want, every value
 * escaped and stripped of the bytes XML 1.0 cannot carry. The root <feedback> is in the
 * RFC's namespace and the elements inside it are not (the RFC schema leaves
 * elementFormDefault unqualified). Source addresses are rewritten for the schema's
 * IPAddress pattern, which only knows dotted IPv4 and eight-group IPv6. The mail is a
 * two-part multipart/mixed message built here and handed to relay_send(); a report is
 * marked sent only after the relay accepted it, so a failed run is retried by the
 * next one. Nothing here keeps state between requests. */
#include "dmarcreport.h"
#include "confdb.h"
#include "json.h"
#include "log.h"
#include "relay.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

bool dmarcrep_day_parse(const char *s, int64_t *begin)
{
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != m - 1)
        return false; /* 2026-02-30 */
    *begin = (int64_t)t;
    return true;
}

bool dmarcrep_ip(const char *s, char *out, size_t outlen)
{
    unsigned char a[16];
    if (s && inet_pton(AF_INET, s, a) == 1) {
        snprintf(out, outlen, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        return true;
    }
    if (!s || inet_pton(AF_INET6, s, a) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0) {
        snprintf(out, outlen, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return true;
    }
    snprintf(out, outlen, "%x:%x:%x:%x:%x:%x:%x:%x", a[0] << 8 | a[1], a[2] << 8 | a[3],
             a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9], a[10] << 8 | a[11],
             a[12] << 8 | a[13], a[14] << 8 | a[15]);
    return true;
}

/* ---- XML ------------------------------------------------------------------------------ */

/* Text content: markup characters escaped, bytes XML 1.0 forbids (controls other than
 * tab, LF, CR) as '?', invalid UTF-8 replaced. */
static void xml_text(buf_t *b, const char *s)
{
    char *c = xstrdup(s ? s : "");
    utf8_scrub(c);
    for (const char *p = c; *p; p++) {
        switch (*p) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: {
            char ch = (unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r' ? '?' : *p;
            buf_append(b, &ch, 1);
        }
        }
    }
    free(c);
}

static void elem(buf_t *b, int indent, const char *name, const char *value)
{
    buf_printf(b, "%*s<%s>", indent, "", name);
    xml_text(b, value);
    buf_printf(b, "</%s>\n", name);
}

/* A value the schema restricts to a list, or its default when the row holds another. */
static const char *one_of(const char *v, const char *const *allowed, const char *dflt)
{
    for (size_t i = 0; v && allowed[i]; i++)
        if (strcmp(v, allowed[i]) == 0)
            return v;
    return dflt;
}

static const char *const dispositions[] = {"none", "quarantine", "reject", NULL};
static const char *const pass_fail[] = {"pass", "fail", NULL};
static const char *const alignments[] = {"r", "s", NULL};
static const char *const overrides[] = {
    "forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "other", NULL};
static const char *const dkim_results[] = {"none",    "pass",      "fail",      "policy",
                                           "neutral", "temperror", "permerror", NULL};
static const char *const spf_results[] = {"none",     "neutral",   "pass",      "fail",
                                          "softfail", "temperror", "permerror", NULL};

/* The DKIM results of a group: "domain<TAB>selector<TAB>result" lines. */
static void dkim_results_xml(buf_t *b, const char *lines)
{
    char *copy = xstrdup(lines ? lines : "");
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *sel = strchr(l, '\t');
        char *res = sel ? strchr(sel + 1, '\t') : NULL;
        if (!sel || !res)
            continue;
        *sel++ = '\0';
        *res++ = '\0';
        if (!*l)
            continue;
        buf_puts(b, "      <dkim>\n");
        elem(b, 8, "domain", l);
        if (*sel)
            elem(b, 8, "selector", sel);
        elem(b, 8, "result", one_of(res, dkim_results, "permerror"));
        buf_puts(b, "      </dkim>\n");
    }
    free(copy);
}

static void record_xml(buf_t *b, const store_dmarc *g, const char *ip)
{
    char count[32];
    snprintf(count, sizeof count, "%llu", (unsigned long long)g->count);
    buf_puts(b, "  <record>\n    <row>\n");
    elem(b, 6, "source_ip", ip);
    elem(b, 6, "count", count);
    buf_puts(b, "      <policy_evaluated>\n");
    elem(b, 8, "disposition", one_of(g->disposition, dispositions, "none"));
    elem(b, 8, "dkim", one_of(g->dkim_aligned, pass_fail, "fail"));
    elem(b, 8, "spf", one_of(g->spf_aligned, pass_fail, "fail"));
    if (g->override && *g->override) {
        buf_puts(b, "        <reason>\n");
        elem(b, 10, "type", one_of(g->override, overrides, "other"));
        if (g->override_comment && *g->override_comment)
            elem(b, 10, "comment", g->override_comment);
        buf_puts(b, "        </reason>\n");
    }
    buf_puts(b, "      </policy_evaluated>\n    </row>\n    <identifiers>\n");
    if (g->envelope_to && *g->envelope_to)
        elem(b, 6, "envelope_to", g->envelope_to);
    elem(b, 6, "envelope_from", g->envelope_from);
    elem(b, 6, "header_from", g->from_domain);
    buf_puts(b, "    </identifiers>\n    <auth_results>\n");
    dkim_results_xml(b, g->dkim);
    /* The schema wants one SPF result at least: when SPF did not run, "none" for the
     * domain it would have checked. */
    bool ran = g->spf_domain && *g->spf_domain;
    buf_puts(b, "      <spf>\n");
    elem(b, 8, "domain",
         ran ? g->spf_domain
             : (g->envelope_from && *g->envelope_from ? g->envelope_from : g->from_domain));
    elem(b, 8, "scope",
         ran && g->spf_scope && strcmp(g->spf_scope, "helo") == 0 ? "helo" : "mfrom");
    elem(b, 8, "result", ran ? one_of(g->spf_result, spf_results, "none") : "none");
    buf_puts(b, "      </spf>\n    </auth_results>\n  </record>\n");
}

void dmarcrep_xml(const dmarcrep_meta *m, const store_dmarc *policy, const store_dmarc *groups,
                  size_t n, buf_t *out, uint32_t *records, uint64_t *messages)
{
    *records = 0;
    *messages = 0;
    uint64_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        char ip[64];
        if (!dmarcrep_ip(groups[i].source_ip, ip, sizeof ip))
            skipped += groups[i].count;
    }
    char num[32];
    buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    buf_puts(out, "<dmarc:feedback xmlns:dmarc=\"" DMARCREP_NS "\">\n");
    buf_puts(out, "  <version>1.0</version>\n  <report_metadata>\n");
    elem(out, 4, "org_name", m->org_name);
    elem(out, 4, "email", m->email);
    if (m->extra_contact_info && *m->extra_contact_info)
        elem(out, 4, "extra_contact_info", m->extra_contact_info);
    elem(out, 4, "report_id", m->report_id);
    buf_puts(out, "    <date_range>\n");
    snprintf(num, sizeof num, "%lld", (long long)m->begin);
    elem(out, 6, "begin", num);
    snprintf(num, sizeof num, "%lld", (long long)m->end);
    elem(out, 6, "end", num);
    buf_puts(out, "    </date_range>\n");
    if (skipped) {
        char e[120];
        snprintf(e, sizeof e, "%llu messages without a client IP address are not reported",
                 (unsigned long long)skipped);
        elem(out, 4, "error", e);
    }
    buf_puts(out, "  </report_metadata>\n  <policy_published>\n");
    elem(out, 4, "domain", policy->policy_domain);
    elem(out, 4, "adkim", one_of(policy->adkim, alignments, "r"));
    elem(out, 4, "aspf", one_of(policy->aspf, alignments, "r"));
    elem(out, 4, "p", one_of(policy->p, dispositions, "none"));
    elem(out, 4, "sp", one_of(policy->sp, dispositions, "none"));
    snprintf(num, sizeof num, "%u", policy->pct > 100 ? 100 : policy->pct);
    elem(out, 4, "pct", num);
    elem(out, 4, "fo", policy->fo && *policy->fo ? policy->fo : "0");
    buf_puts(out, "  </policy_published>\n");
    for (size_t i = 0; i < n; i++) {
        char ip[64];
        if (!dmarcrep_ip(groups[i].source_ip, ip, sizeof ip))
            continue;
        record_xml(out, &groups[i], ip);
        (*records)++;
        *messages += groups[i].count;
    }
    buf_puts(out, "</dmarc:feedback>\n");
}

void dmarcrep_file_name(const char *receiver, const char *domain, int64_t begin, int64_t end,
                        char *out, size_t outlen)
{
    snprintf(out, outlen, "%s!%s!%lld!%lld.xml.gz", receiver, domain, (long long)begin,
             (long long)end);
}

bool dmarcrep_gzip(const void *p, size_t n, buf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    size_t at = out->len;
    out->data = xrealloc(out->data, at + cap + 1);
    out->cap = at + cap + 1;
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + at;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (rc != Z_STREAM_END)
        return false;
    out->len = at + z.total_out;
    out->data[out->len] = '\0';
    return true;
}

/* ---- the mail ------------------------------------------------------------------------ */

static void base64_lines(buf_t *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        buf_append(b, q, 4);
        if ((col += 4) == 76) {
            buf_puts(b, "\r\n");
            col = 0;
        }
    }
    if (col)
        buf_puts(b, "\r\n");
}

/* A header value from configuration or data: no line breaks can get in. */
static void header_value(buf_t *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        char c = *p == '\r' || *p == '\n' ? ' ' : *p;
        buf_append(b, &c, 1);
    }
}

void dmarcrep_mail(const dmarcrep_meta *m, const char *domain, const char *receiver,
                   const char *file_name, const strlist *to, const void *gz, size_t gzlen,
                   buf_t *out)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    buf_puts(out, "From: ");
    header_value(out, m->email);
    buf_puts(out, "\r\nTo: ");
    for (size_t i = 0; i < to->n; i++) {
        buf_puts(out, i ? ", " : "");
        header_value(out, to->v[i]);
    }
    buf_printf(out, "\r\nDate: %s\r\nSubject: Report Domain: ", date);
    header_value(out, domain);
    buf_puts(out, " Submitter: ");
    header_value(out, receiver);
    buf_puts(out, " Report-ID: <");
    header_value(out, m->report_id);
    buf_puts(out, ">\r\nMessage-ID: <");
    header_value(out, m->report_id);
    buf_puts(out, "@");
    header_value(out, receiver);
    const char *boundary = "=_bulwark_dmarc_report_=";
    buf_printf(out,
               ">\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
               "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
               "This is a DMARC aggregate report (RFC 7489) for ",
               boundary, boundary);
    header_value(out, domain);
    buf_puts(out, " from ");
    header_value(out, m->org_name);
    buf_printf(out,
               ".\r\n\r\n--%s\r\nContent-Type: application/gzip\r\n"
               "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
               "filename=\"",
               boundary);
    header_value(out, file_name);
    buf_puts(out, "\"\r\n\r\n");
    base64_lines(out, gz, gzlen);
    buf_printf(out, "--%s--\r\n", boundary);
}

/* ---- the request ------------------------------------------------------------------------ */

typedef struct {
    Bulwark__DmarcReport r;
    buf_t xml;
    strlist rua;
    char file_name[600], report_id[400];
    char *send_result;
} report_out;

static void split_rua(const char *s, strlist *out)
{
    char *copy = xstrdup(s ? s : "");
    char *save = NULL;
    for (char *a = strtok_r(copy, ", ", &save); a; a = strtok_r(NULL, ", ", &save))
        strlist_add(out, a);
    free(copy);
}

/* Mails one report; the outcome goes to o->r.sent and o->send_result. */
static void send_report(store *st, const dmarcrep_config *cfg, const dmarcrep_meta *m,
                        const char *domain, const char *day, const char *receiver, bool resend,
                        report_out *o)
{
    char err[512];
    if (!*cfg->org_name || !*cfg->email) {
        o->send_result = xstrdup("not sent: dmarc.report.org_name and dmarc.report.email must "
                                 "be set");
        return;
    }
    if (!o->rua.n) {
        o->send_result = xstrdup("not sent: no rua address");
        return;
    }
    if (strncmp(cfg->relay, "smtp://", 7) != 0 && strncmp(cfg->relay, "smtps://", 8) != 0) {
        o->send_result =
            xasprintf("not sent: dmarc.report.relay '%s' is not smtp://HOST:PORT", cfg->relay);
        return;
    }
    bool sent = false;
    char *before = NULL;
    if (!store_dmarc_sent(st, domain, day, &sent, &before, err, sizeof err)) {
        o->send_result = xasprintf("not sent: %s", err);
        return;
    }
    if (sent && !resend) {
        o->send_result = xasprintf("sent before: %s", before ? before : "");
        free(before);
        return;
    }
    free(before);
    buf_t gz = {0}, mail = {0};
    if (!dmarcrep_gzip(o->xml.data, o->xml.len, &gz)) {
        o->send_result = xstrdup("not sent: gzip failed");
        buf_free(&gz);
        return;
    }
    dmarcrep_mail(m, domain, receiver, o->file_name, &o->rua, gz.data, gz.len, &mail);
    char reply[600];
    bool ok = relay_send(cfg->relay, cfg->email, o->rua.v, o->rua.n, mail.data, mail.len, reply,
                         sizeof reply);
    o->r.sent = ok;
    o->send_result = xasprintf("%s%s", ok ? "" : "not sent: ", reply);
    log_info("event=dmarc_report_%s domain=%s day=%s rua=%zu bytes=%zu reply=\"%s\"",
             ok ? "sent" : "failed", domain, day, o->rua.n, mail.len, reply);
    if (ok && !store_dmarc_mark_sent(st, domain, day, m->report_id, reply, err, sizeof err))
        log_warn("event=dmarc_report_mark_failed domain=%s day=%s error=\"%s\"", domain, day, err);
    buf_free(&gz);
    buf_free(&mail);
}

/* Builds the report of one domain into o; false on a database error (err set). */
static bool build_report(store *st, const dmarcrep_config *cfg, const char *domain, int64_t begin,
                         const char *receiver, report_out *o, dmarcrep_meta *m, char *err,
                         size_t errlen)
{
    uint64_t b_ms = (uint64_t)begin * 1000, e_ms = b_ms + 86400000;
    store_dmarc policy;
    bool found;
    if (!store_dmarc_latest(st, domain, b_ms, e_ms, &policy, &found, err, errlen))
        return false;
    store_dmarc *groups = NULL;
    size_t n = 0;
    if (found && !store_dmarc_groups(st, domain, b_ms, e_ms, &groups, &n, err, errlen)) {
        store_dmarc_free(&policy);
        return false;
    }
    char day[16];
    time_t t = (time_t)begin;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    snprintf(o->report_id, sizeof o->report_id, "%s.%s.%s", day, domain, receiver);
    *m = (dmarcrep_meta){cfg->org_name, cfg->email, cfg->extra_contact_info,
                         o->report_id,  begin,      begin + 86399};
    bulwark__dmarc_report__init(&o->r);
    uint32_t records = 0;
    uint64_t messages = 0;
    if (found)
        dmarcrep_xml(m, &policy, groups, n, &o->xml, &records, &messages);
    split_rua(policy.rua, &o->rua);
    dmarcrep_file_name(receiver, domain, begin, begin + 86399, o->file_name, sizeof o->file_name);
    o->r.domain = (char *)domain;
    o->r.file_name = o->file_name;
    o->r.xml.data = (uint8_t *)o->xml.data;
    o->r.xml.len = o->xml.len;
    o->r.records = records;
    o->r.messages = messages;
    o->r.rua = o->rua.v;
    o->r.n_rua = o->rua.n;
    o->r.report_id = o->report_id;
    for (size_t i = 0; i < n; i++)
        store_dmarc_free(&groups[i]);
    free(groups);
    store_dmarc_free(&policy);
    return true;
}

void dmarcrep_age(store *st, unsigned days)
{
    char err[512];
    uint64_t n = 0;
    if (!store_age(st, "dmarc_result", days, &n, err, sizeof err))
        log_warn("event=aging_failed table=dmarc_result error=\"%s\" deleted=%llu", err,
                 (unsigned long long)n);
    else if (n)
        log_info("event=aging table=dmarc_result deleted=%llu days=%u", (unsigned long long)n,
                 days);
}

void dmarcrep_request(store *st, const Bulwark__DmarcReportRequest *req, const dmarcrep_config *cfg,
                      zmq_msg_t *reply)
{
    int64_t begin;
    char err[512];
    if (!req->day || !dmarcrep_day_parse(req->day, &begin)) {
        conf_pack_error(400, "day must be a date YYYY-MM-DD", reply);
        return;
    }
    strlist domains = {0};
    if (!store_dmarc_domains(st, (uint64_t)begin * 1000, (uint64_t)(begin + 86400) * 1000,
                             req->domain, &domains, err, sizeof err)) {
        conf_pack_error(451, err, reply);
        return;
    }
    const char *at = strrchr(cfg->email, '@');
    const char *receiver = at && at[1] ? at + 1 : "bulwark.invalid";
    report_out *outs = xcalloc(domains.n ? domains.n : 1, sizeof *outs);
    Bulwark__DmarcReport **rv = xcalloc(domains.n ? domains.n : 1, sizeof *rv);
    bool failed = false;
    for (size_t i = 0; i < domains.n && !failed; i++) {
        dmarcrep_meta m;
        if (!build_report(st, cfg, domains.v[i], begin, receiver, &outs[i], &m, err, sizeof err)) {
            failed = true;
            break;
        }
        if (req->send)
            send_report(st, cfg, &m, domains.v[i], req->day, receiver, req->resend, &outs[i]);
        outs[i].r.send_result = outs[i].send_result ? outs[i].send_result : "";
        rv[i] = &outs[i].r;
    }
    if (failed) {
        conf_pack_error(451, err, reply);
    } else {
        Bulwark__DmarcReportReply r = BULWARK__DMARC_REPORT_REPLY__INIT;
        r.reports = rv;
        r.n_reports = domains.n;
        packet p = BULWARK__PACKET__INIT;
        p.body_case = BULWARK__PACKET__BODY_DMARC_REPORTS;
        p.dmarc_reports = &r;
        zx_pack(&p, reply);
        log_info("event=dmarc_reports day=%s domains=%zu send=%s", req->day, domains.n,
                 req->send ? "yes" : "no");
    }
    for (size_t i = 0; i < domains.n; i++) {
        buf_free(&outs[i].xml);
        strlist_free(&outs[i].rua);
        free(outs[i].send_result);
    }
    free(outs);
    free(rv);
    strlist_free(&domains);
}
