/* params.h - every configuration parameter, declared once, with its bounds.
 *
 * There are four tables: the daemon files of bulwark-master and bulwark-node, the
 * bulwarkctl client file, and the cluster configuration that lives versioned in
 * MariaDB and is pushed to nodes. A `params` object holds one value per parameter
 * of a table; it starts at the defaults and is changed only through params_set(),
 * which checks type and bounds and explains a refusal in words. docs/config.md is
 * generated from these tables (`bulwarkctl config doc`). */
#ifndef BW_PARAMS_H
#define BW_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    P_STR, /* any single-line text */
    P_INT, /* integer within [min, max] */
    P_DOUBLE, /* number within [min, max] */
    P_BOOL, /* yes/no, true/false, on/off, 1/0 */
    P_SIZE, /* bytes; suffix k, m, g (powers of 1024) */
    P_DURATION, /* milliseconds; suffix ms, s, m, h (a bare number is seconds) */
    P_ENUM, /* one of `choices`, separated by '|' */
} param_type;

typedef struct {
    const char *name;
    param_type type;
    const char *def;
    double min, max; /* for P_INT, P_DOUBLE, P_SIZE, P_DURATION */
    const char *choices; /* for P_ENUM */
    const char *doc;
} param_def;

typedef struct {
    const char *title;
    const char *file; /* where the table's values come from, for the docs */
    const char *intro;
    const param_def *defs;
    size_t n;
    /* A prefix under which any `prefix<SYMBOL>` key is a P_DOUBLE (symbol weights). */
    const char *dynamic_prefix;
    const char *dynamic_doc;
    /* Also accept the scoped policy keys policy.domain.<domain>.<what> and
     * policy.user.<address>.<what> (P_DOUBLE; see params_scoped_key), the DKIM
     * signing keys dkim.sign.<domain>.<selector> (sealed text; params_dkim_key) and the
     * DNS block lists rbl.list.<name>.<attribute> (text; rblconf.h). */
    bool scoped_policy;
} param_table;

extern const param_table params_master;
extern const param_table params_node;
extern const param_table params_ctl;
extern const param_table params_milter;
extern const param_table params_cluster;

typedef struct params params;

params *params_new(const param_table *t);
params *params_dup(const params *p);
void params_destroy(params **p);
const param_table *params_table(const params *p);

/* Sets one parameter from text. On refusal returns false and writes a sentence
 * into err (without file or line; callers add where the value came from). */
bool params_set(params *p, const char *key, const char *value, char *err, size_t errlen);
/* Checks a key/value pair against a table without storing it. */
bool params_check(const param_table *t, const char *key, const char *value, char *err,
                  size_t errlen);
/* Returns a parameter to its default. False if the key is unknown. */
bool params_unset(params *p, const char *key);

/* Reads `key = value` lines ('#' starts a comment) from a file. On the first bad
 * line returns false with "FILE:LINE: reason" in err. */
bool params_load_file(params *p, const char *path, char *err, size_t errlen);
/* The same over text already in memory; `origin` names it in errors. */
bool params_load_text(params *p, const char *origin, const char *text, size_t len, char *err,
                      size_t errlen);

/* Getters panic on a name that is not in the table: that is a programming error. */
const char *params_str(const params *p, const char *name);
int64_t params_int(const params *p, const char *name); /* P_INT, P_SIZE, P_DURATION(ms), P_BOOL */
double params_double(const params *p, const char *name);
bool params_bool(const params *p, const char *name);

/* Splits a scoped policy key "policy.domain.example.org.tag_score" into its scope
 * ("domain:example.org" / "user:a@example.org", written into scope) and what it sets
 * (pointer into key: "tag_score", "quarantine_score", "reject_score" or "adjust").
 * NULL when the key is not one. Scope names are lower case (domains without '@',
 * users with one). */
const char *params_scoped_key(const char *key, char *scope, size_t scopelen);
/* Splits a DKIM signing key "dkim.sign.example.org.sel1" into its domain (written
 * into domain) and selector (the returned pointer into key: the last label). NULL when
 * the key is not one. Names are lower case. */
const char *params_dkim_key(const char *key, char *domain, size_t domainlen);

/* Symbol weights under the table's dynamic prefix; false when not set. */
bool params_dynamic(const params *p, const char *name, double *out);

/* Iterates over the explicitly set (non-default) values, dynamic ones included:
 * for (size_t i = 0; params_next_set(p, &i, &k, &v);) ... */
bool params_next_set(const params *p, size_t *it, const char **key, const char **value);

/* Writes the Markdown reference of a table. */
void params_doc(const param_table *t, char **out);

#endif
