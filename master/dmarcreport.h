/* dmarcreport.h - DMARC aggregate reports (RFC 7489 7.2) from the recorded results.
 *
 * Runs on the master's database thread (confdb.c) with its store. For one UTC day, each
 * policy domain with results in the dmarc_result table gets one report: the policy as
 * last published that day, and one <record> per group of messages with the same source
 * IP, disposition, results and identifiers, with its count. The report is Appendix C
 * XML (docs/schemas/rfc7489-aggregate.xsd validates it); sent, it is gzipped, named
 * receiver!domain!begin!end.xml.gz and mailed to the domain's rua addresses through
 * dmarc.report.relay, once per domain and day (dmarc_report remembers what was sent).
 * The builders below take plain values so they are unit tested without a database. */
#ifndef BW_DMARCREPORT_H
#define BW_DMARCREPORT_H

#include "store.h"
#include "util.h"
#include "zmqx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMARCREP_NS "http://dmarc.org/dmarc-xml/0.1"

/* The cluster parameters the reports need (dmarc.report.*), borrowed. */
typedef struct {
    const char *org_name, *email, *extra_contact_info, *relay;
} dmarcrep_config;

typedef struct {
    const char *org_name, *email, *extra_contact_info, *report_id;
    int64_t begin, end; /* seconds since the epoch, both inside the day */
} dmarcrep_meta;

/* "YYYY-MM-DD" (a real date) -> the first second of that UTC day; false otherwise. */
bool dmarcrep_day_parse(const char *s, int64_t *begin);
/* The address as the schema's IPAddress pattern wants it: dotted IPv4 (an IPv4-mapped
 * IPv6 address too), IPv6 as eight groups without "::". False when s is no address. */
bool dmarcrep_ip(const char *s, char *out, size_t outlen);
/* The report of one policy domain: `policy` holds the published tags (store_dmarc_latest),
 * groups[0..n) the counted rows. Groups whose source IP is not an address are left out
 * and said in an <error>. *records and *messages count what went in. */
void dmarcrep_xml(const dmarcrep_meta *m, const store_dmarc *policy, const store_dmarc *groups,
                  size_t n, buf_t *out, uint32_t *records, uint64_t *messages);
/* receiver "!" policy-domain "!" begin "!" end ".xml.gz" (7.2.1.1). */
void dmarcrep_file_name(const char *receiver, const char *domain, int64_t begin, int64_t end,
                        char *out, size_t outlen);
/* gzip (RFC 1952) of p[0..n) appended to out; false if zlib fails. */
bool dmarcrep_gzip(const void *p, size_t n, buf_t *out);
/* The report mail: From the contact address, To the rua addresses, the Subject of
 * 7.2.1.1, a short text part and the gzipped report as a base64 attachment. */
void dmarcrep_mail(const dmarcrep_meta *m, const char *domain, const char *receiver,
                   const char *file_name, const strlist *to, const void *gz, size_t gzlen,
                   buf_t *out);

/* A DmarcReportRequest: builds (and with send, mails) the reports and packs the
 * DmarcReportReply, or an Error (400 bad day, 451 database), into *reply. */
void dmarcrep_request(store *st, const Bulwark__DmarcReportRequest *req, const dmarcrep_config *cfg,
                      zmq_msg_t *reply);

/* Deletes results older than `days` (dmarc.report.retention_days); logs the count. */
void dmarcrep_age(store *st, unsigned days);

#endif
