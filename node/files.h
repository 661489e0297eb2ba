/* files.h - every file in a message: the MIME leaf parts and, recursively, the
 * members of the archives among them (libarchive: zip, rar, 7z, tar, gz, bz2, xz,
 * iso, cab...), with their names, true types and bytes.
 *
 * The attachment policy, the office/PDF check and ClamAV read this one list, so an
 * executable is judged the same whether it is attached or three archives deep. The
 * walk is bounded by the limits below; what a limit stopped is recorded as a flag
 * on the set (and on the archive concerned), never an error: the checks turn flags
 * into symbols and the policy decides (quarantine by default, fail-closed). */
#ifndef BW_FILES_H
#define BW_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per file. */
enum {
    FILE_ATTACHMENT = 1u << 0, /* a MIME part with Content-Disposition: attachment */
    FILE_ARCHIVE = 1u << 1, /* an archive or compressed file that was opened */
    FILE_ENCRYPTED = 1u << 2, /* an encrypted archive, or an encrypted member, that stayed
                                 closed (at least partly, for an archive) */
    FILE_DECRYPTED = 1u << 3, /* encrypted, opened with a password from the body */
    FILE_NOT_EXTRACTED = 1u << 4, /* bytes not available (encrypted, over a limit) */
    FILE_TRUNCATED = 1u << 5, /* archive damaged or cut short */
    FILE_MEMBER = 1u << 6, /* inside an archive (depth > 0) */
    FILE_BOMB = 1u << 7, /* an archive that expands beyond max_ratio (walk stopped there) */
    FILE_TOO_DEEP = 1u << 8, /* an archive at the depth limit, left closed */
};

/* Per walk: which limit stopped it (check.archives.*). */
enum {
    WALK_TOO_DEEP = 1u << 0, /* nesting beyond max_depth */
    WALK_TOO_BIG = 1u << 1, /* expanded bytes beyond max_total_size */
    WALK_RATIO = 1u << 2, /* an archive expands more than max_ratio times (zip bomb) */
    WALK_TOO_MANY = 1u << 3, /* more members than max_entries */
    WALK_TIMEOUT = 1u << 4, /* walking took longer than max_time */
    WALK_ENCRYPTED = 1u << 5, /* some archive or member is encrypted and stayed closed */
    WALK_DAMAGED = 1u << 6, /* some archive could not be read to the end */
};

typedef struct {
    const char *name; /* file name (decoded MIME name, or member path); "" if none */
    const char *path; /* where it is: "invoice.zip/inner.7z/eicar.com"; for MIME
                         parts the name or "part N" (N from 1) */
    const char *declared_type; /* MIME part's declared type; "" for members */
    const char *detected_type; /* libmagic MIME type; "" when not extracted */
    const uint8_t *data; /* NULL when FILE_NOT_EXTRACTED */
    size_t len; /* bytes in data */
    uint64_t size; /* the size the archive declares (members), else len */
    unsigned depth; /* 0 for MIME parts */
    int parent; /* index of the containing archive in files_set.v; -1 for MIME parts */
    unsigned part; /* index of the MIME part it comes from (msg_part.index) */
    unsigned flags; /* FILE_* */
} scan_file;

typedef struct {
    size_t max_depth; /* archives inside archives: 1 opens only the outer ones */
    uint64_t max_total; /* bytes expanded in all, per message */
    double max_ratio; /* expanded / compressed per archive */
    size_t max_entries; /* members in all, per message */
    uint64_t max_time_ms; /* wall time for the walk */
    bool try_passwords; /* try words from the message text as archive passwords */
    size_t max_passwords; /* candidates tried per encrypted archive */
} walk_limits;

typedef struct {
    scan_file *v;
    size_t n;
    unsigned flags; /* WALK_* */
    char detail[256]; /* the first limit hit, in words, for the symbol's detail */
    uint64_t expanded; /* bytes expanded in all */
    struct files_priv *priv; /* the walk's state and the memory the set owns */
} file_set;

/* An empty set, for files_walk_buffer (files_walk makes its own). */
file_set *files_new(void);

struct msg_model;
/* Builds the list for a message. `text` is the message's visible text (passwords are
 * looked for in it when try_passwords is set; may be NULL). Never fails. */
file_set *files_walk(const struct msg_model *m, const walk_limits *lim, const char *text);
/* Frees the set and everything it owns (member bytes, names); NULLs *fs. */
void files_free(file_set **fs);

/* The walk over one buffer, without a message: the members of `data` (if it is an
 * archive) and their members. Used by files_walk for each part, by the fuzz target,
 * and by the unit tests. Appends to fs (from files_new) the outer file itself (depth
 * 0, parent -1, data borrowed: it must outlive fs) and its members; `name` is the
 * outer file's name. The limits are counted per set, across calls. */
void files_walk_buffer(file_set *fs, const uint8_t *data, size_t len, const char *name,
                       const walk_limits *lim, const char *text);

#endif
