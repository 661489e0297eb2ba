/* checks.h - the registry of check modules; each lives in node/checks/<name>.c. */
#ifndef BW_CHECKS_H
#define BW_CHECKS_H

#include "pipeline.h"

extern const check_def check_size;
extern const check_def check_headers;
extern const check_def check_mime;
extern const check_def check_gtube;
extern const check_def check_html;
extern const check_def check_attachments;
extern const check_def check_archives;
extern const check_def check_office;
extern const check_def check_clamav;
extern const check_def check_spf;
extern const check_def check_dkim;
extern const check_def check_arc;
extern const check_def check_dmarc;
extern const check_def check_rbl;
extern const check_def check_dnscheck;
extern const check_def check_rules;
extern const check_def check_bayes;
extern const check_def check_fuzzy;
extern const check_def check_rspamd;

#endif
