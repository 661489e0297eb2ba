/* clam.c - the process's libclamav engine: load, scan, live reload.
 *
 * One holder per process (libclamav itself is initialised once): `current` is the
 * engine new scans use; it holds one reference and each scan in progress another,
 * all counted under one mutex that is only held for the count, never during a load
 * or a scan. A reload (the reloader thread every clamav_reload_interval, or
 * clam_reload_check) fingerprints the signature files (names, sizes, mtimes,
 * inodes); when that changed it builds and compiles a new engine in the calling
 * thread, swaps it in, and retires the old one, which is freed when its last scan
 * releases it (by the reloader thread when there is one, so no scan pays for the
 * free). A reload that fails keeps the old engine and logs why. Scans map the
 * buffer (cl_fmap_open_memory); libclamav still writes decoded parts into its
 * temp directory, a private one on tmpfs by default. Limits are always turned into
 * detections (CL_SCAN_HEURISTIC_EXCEEDS_MAX) so a message is never passed as clean
 * because it was too big to scan. */
#include "clam.h"
#include "log.h"
#include "util.h"

#include <clamav.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Retry a fingerprint that failed to load no sooner than this (a transient fault,
 * e.g. memory); a further change of the files is tried at once. */
#define RETRY_FAILED_MS (5 * 60 * 1000)

typedef struct engine {
    struct cl_engine *cl;
    unsigned refs; /* guarded by g.lock; `current` counts as one */
    unsigned sigs;
    unsigned number;
    uint64_t max_filesize;
    struct engine *next; /* in g.retired */
} engine;

static struct {
    pthread_mutex_t lock; /* guards current, retired, refs, stopping */
    pthread_cond_t wake; /* the reloader: stop, or a retired engine's last scan ended */
    engine *current;
    engine *retired; /* swapped out, still scanning or waiting for the reloader */
    bool stopping;
    bool thread_running;
    pthread_t thread;

    pthread_mutex_t reload_lock; /* one load at a time; guards the fields below */
    bool started;
    char *db_dir;
    char *tmpdir;
    bool own_tmpdir;
    clam_config cfg;
    uint64_t fingerprint;
    uint64_t failed_fingerprint;
    uint64_t failed_at_ms;
    unsigned loaded; /* engines loaded since start */
} g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .reload_lock = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static cl_error_t init_rc;

/* The last error libclamav reported outside a scan (while loading), per thread,
 * so a failed load can say which database and line is broken. */
static _Thread_local char load_error[300];

typedef struct {
    const char *name;
    const char *found; /* the first detection's name, from on_virus */
    char failed[200]; /* an error libclamav logged that means the scan did not happen */
} scan_ctx;

/* libclamav 1.4 returns CL_CLEAN when it cannot create the scan's temp directory,
 * or when an allocation fails in some parsers: it only logs the error. These
 * messages turn a "clean" into CLAM_ERROR. Errors about the input itself (a
 * malformed archive) do not: they would tempfail a message forever. */
static bool is_scan_failure(const char *msg)
{
    static const char *const words[] = {"emporary", "Can't create", "alloc", "memory", NULL};
    for (size_t i = 0; words[i]; i++)
        if (strstr(msg, words[i]))
            return true;
    return false;
}

/* libclamav's own messages. Scan warnings are about untrusted input (malformed
 * archives and the like), so they go to debug; errors to warn. During a scan the
 * context is our scan_ctx (libclamav passes the scan's context through); while
 * loading it is NULL. */
static void on_message(enum cl_msg severity, const char *fullmsg, const char *msg, void *context)
{
    (void)fullmsg;
    if (severity != CL_MSG_ERROR && !(severity == CL_MSG_WARN && log_enabled(LOG_DEBUG)))
        return;
    char text[300];
    size_t n = 0;
    for (const char *p = msg ? msg : ""; *p && n < sizeof text - 1; p++)
        text[n++] = *p == '"' ? '\'' : (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    while (n && text[n - 1] == ' ')
        n--;
    text[n] = '\0';
    scan_ctx *c = context;
    if (severity == CL_MSG_WARN) {
        log_debug("%s%s%sevent=libclamav level=warning msg=\"%s\"", c ? "job=" : "",
                  c ? c->name : "", c ? " " : "", text);
        return;
    }
    if (c && !c->failed[0] && is_scan_failure(text))
        snprintf(c->failed, sizeof c->failed, "%.199s", text);
    size_t have = strlen(load_error);
    if (!c && have < sizeof load_error / 2) { /* the first messages say most */
        if (have)
            memcpy(load_error + have, "; ", 3), have += 2;
        size_t room = sizeof load_error - have - 1, tl = strlen(text);
        memcpy(load_error + have, text, tl < room ? tl : room);
        load_error[have + (tl < room ? tl : room)] = '\0';
    }
    log_warn("%s%s%sevent=libclamav level=error msg=\"%s\"", c ? "job=" : "", c ? c->name : "",
             c ? " " : "", text);
}

/* Some detections come back as CL_VIRUS without a name (a limit checked before the
 * scan proper, in libclamav 1.x): the callback sees every one with its name. */
static void on_virus(int fd, const char *virname, void *context)
{
    (void)fd;
    scan_ctx *c = context;
    if (c && !c->found)
        c->found = virname;
}

static void init_libclamav(void)
{
    cl_set_clcb_msg(on_message);
    init_rc = cl_init(CL_INIT_DEFAULT);
}

void clam_config_from_params(const params *p, clam_config *c)
{
    memset(c, 0, sizeof *c);
    c->db_dir = params_str(p, "clamav_db_dir");
    c->tmpdir = params_str(p, "clamav_tmpdir");
    c->reload_interval_ms = (uint64_t)params_int(p, "clamav_reload_interval");
    c->max_filesize = (uint64_t)params_int(p, "clamav_max_filesize");
    c->max_scansize = (uint64_t)params_int(p, "clamav_max_scansize");
    c->max_recursion = (unsigned)params_int(p, "clamav_max_recursion");
    c->max_files = (unsigned)params_int(p, "clamav_max_files");
    c->max_scantime_ms = (unsigned)params_int(p, "clamav_max_scantime");
}

/* ---- the signature directory's fingerprint ---------------------------------------- */

/* The files cl_load reads (libclamav's CLI_DBEXT); freshclam's temporary files and
 * anything else in the directory do not trigger a reload. */
static bool is_database(const char *name)
{
    static const char *const ext[] = {
        "cvd", "cld",  "cud",  "hdb", "hsb", "hdu", "hsu", "mdb",  "msb", "mdu",  "msu",
        "ndb", "ndu",  "ldb",  "ldu", "sdb", "zmd", "rmd", "idb",  "fp",  "sfp",  "gdb",
        "pdb", "wdb",  "cdb",  "cbc", "ftm", "cfg", "crb", "imp",  "yar", "yara", "pwdb",
        "ign", "ign2", "info", "cat", "crt", "pdu", "wdu", "sign", NULL,
    };
    if (name[0] == '.')
        return false;
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    for (size_t i = 0; ext[i]; i++)
        if (strcmp(dot + 1, ext[i]) == 0)
            return true;
    return false;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* A hash of every database file's name, size, mtime and inode, independent of the
 * order readdir returns them in. False with err when the directory cannot be read. */
static bool fingerprint(const char *dir, uint64_t *out, size_t *files, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return false;
    }
    uint64_t sum = 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_database(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        uint64_t h = fnv(14695981039346656037ULL, de->d_name, strlen(de->d_name));
        int64_t v[5] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                        (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ino, (int64_t)st.st_dev};
        sum += fnv(h, v, sizeof v);
        n++;
    }
    closedir(d);
    *out = fnv(sum, &n, sizeof n);
    *files = n;
    return true;
}

static bool have_files(size_t files, char *err, size_t errlen)
{
    if (files == 0)
        snprintf(err, errlen,
                 "no signatures in %s (expected freshclam's main/daily/bytecode .cvd or .cld "
                 "files, or .ndb/.hdb/.ldb databases)",
                 g.db_dir);
    return files > 0;
}

/* ---- engines ------------------------------------------------------------------------ */

static bool set_num(struct cl_engine *cl, enum cl_engine_field f, long long v, const char *what,
                    char *err, size_t errlen)
{
    cl_error_t rc = cl_engine_set_num(cl, f, v);
    if (rc != CL_SUCCESS)
        snprintf(err, errlen, "cannot set %s to %lld: %s", what, v, cl_strerror(rc));
    return rc == CL_SUCCESS;
}

/* Builds and compiles an engine from g.db_dir with g.cfg's limits (reload_lock held). */
static engine *engine_load(char *err, size_t errlen)
{
    uint64_t t0 = mono_ms();
    struct cl_engine *cl = cl_engine_new();
    if (!cl) {
        snprintf(err, errlen, "cl_engine_new failed (out of memory?)");
        return NULL;
    }
    const clam_config *c = &g.cfg;
    cl_error_t rc;
    if (!set_num(cl, CL_ENGINE_MAX_FILESIZE, (long long)c->max_filesize, "clamav_max_filesize", err,
                 errlen) ||
        !set_num(cl, CL_ENGINE_MAX_SCANSIZE, (long long)c->max_scansize, "clamav_max_scansize", err,
                 errlen) ||
        !set_num(cl, CL_ENGINE_MAX_RECURSION, c->max_recursion, "clamav_max_recursion", err,
                 errlen) ||
        !set_num(cl, CL_ENGINE_MAX_FILES, c->max_files, "clamav_max_files", err, errlen) ||
        !set_num(cl, CL_ENGINE_MAX_SCANTIME, c->max_scantime_ms, "clamav_max_scantime", err,
                 errlen))
        goto fail;
    cl_engine_set_clcb_virus_found(cl, on_virus);
    if ((rc = cl_engine_set_str(cl, CL_ENGINE_TMPDIR, g.tmpdir)) != CL_SUCCESS) {
        snprintf(err, errlen, "cannot set the temp directory %s: %s", g.tmpdir, cl_strerror(rc));
        goto fail;
    }
    unsigned sigs = 0;
    load_error[0] = '\0';
    /* CL_DB_STDOPT: phishing signatures and URLs, and signed bytecode; no PUA (an
     * adware detector's idea of unwanted is not ours). */
    rc = cl_load(g.db_dir, cl, &sigs, CL_DB_STDOPT);
    if (rc != CL_SUCCESS) {
        snprintf(err, errlen, "cannot load signatures from %s: %s%s%s%s", g.db_dir, cl_strerror(rc),
                 load_error[0] ? " (" : "", load_error, load_error[0] ? ")" : "");
        goto fail;
    }
    if (sigs == 0) {
        snprintf(err, errlen,
                 "no signatures in %s (expected freshclam's main/daily/bytecode .cvd or .cld "
                 "files, or .ndb/.hdb/.ldb databases)",
                 g.db_dir);
        goto fail;
    }
    if ((rc = cl_engine_compile(cl)) != CL_SUCCESS) {
        snprintf(err, errlen, "cannot compile the signatures from %s: %s%s%s%s", g.db_dir,
                 cl_strerror(rc), load_error[0] ? " (" : "", load_error, load_error[0] ? ")" : "");
        goto fail;
    }
    engine *e = xcalloc(1, sizeof *e);
    e->cl = cl;
    e->refs = 1;
    e->sigs = sigs;
    e->number = ++g.loaded;
    e->max_filesize = c->max_filesize;
    int gerr = 0;
    long long dbver = cl_engine_get_num(cl, CL_ENGINE_DB_VERSION, &gerr);
    long long dbtime = cl_engine_get_num(cl, CL_ENGINE_DB_TIME, &gerr);
    log_info("event=clamav_loaded engine=%u dir=%s signatures=%u libclamav=%s db_version=%lld "
             "db_time=%lld ms=%llu",
             e->number, g.db_dir, sigs, cl_retver(), dbver, dbtime,
             (unsigned long long)(mono_ms() - t0));
    return e;
fail:
    cl_engine_free(cl);
    return NULL;
}

static void engine_free(engine *e)
{
    uint64_t t0 = mono_ms();
    cl_engine_free(e->cl);
    log_info("event=clamav_freed engine=%u ms=%llu", e->number,
             (unsigned long long)(mono_ms() - t0));
    free(e);
}

static engine *engine_get(void)
{
    pthread_mutex_lock(&g.lock);
    engine *e = g.current;
    if (e)
        e->refs++;
    pthread_mutex_unlock(&g.lock);
    return e;
}

/* Unlinks a retired engine (g.lock held). */
static void unretire(engine *e)
{
    for (engine **pp = &g.retired; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            return;
        }
    }
}

static void engine_release(engine *e)
{
    pthread_mutex_lock(&g.lock);
    bool last = --e->refs == 0;
    if (last && g.thread_running) {
        pthread_cond_signal(&g.wake); /* the reloader frees it */
        last = false;
    } else if (last) {
        unretire(e);
    }
    pthread_mutex_unlock(&g.lock);
    if (last)
        engine_free(e);
}

/* Makes e current; the old engine retires with the holder's reference dropped. */
static void engine_swap(engine *e)
{
    pthread_mutex_lock(&g.lock);
    engine *old = g.current;
    g.current = e;
    bool free_now = false;
    if (old) {
        free_now = --old->refs == 0;
        if (!free_now) {
            old->next = g.retired;
            g.retired = old;
        }
    }
    pthread_mutex_unlock(&g.lock);
    if (free_now)
        engine_free(old);
}

/* Frees the retired engines no scan uses any more (the reloader; g.lock held, and
 * dropped around each free). */
static void free_idle_retired(void)
{
    for (;;) {
        engine *e = g.retired;
        while (e && e->refs)
            e = e->next;
        if (!e)
            return;
        unretire(e);
        pthread_mutex_unlock(&g.lock);
        engine_free(e);
        pthread_mutex_lock(&g.lock);
    }
}

/* ---- reload ------------------------------------------------------------------------- */

clam_reload_status clam_reload_check(char *err, size_t errlen)
{
    pthread_mutex_lock(&g.reload_lock);
    if (!g.started) {
        pthread_mutex_unlock(&g.reload_lock);
        snprintf(err, errlen, "ClamAV is not started");
        return CLAM_RELOAD_FAILED;
    }
    uint64_t fp;
    size_t files;
    clam_reload_status st = CLAM_RELOAD_UNCHANGED;
    uint64_t now = mono_ms();
    bool readable = fingerprint(g.db_dir, &fp, &files, err, errlen);
    if (!readable || !have_files(files, err, errlen)) {
        /* Said once, not at every interval, until the directory changes again. */
        fp = readable ? fp : 1;
        st = fp == g.failed_fingerprint ? CLAM_RELOAD_UNCHANGED : CLAM_RELOAD_FAILED;
        g.failed_fingerprint = fp;
        g.failed_at_ms = now;
    } else if (fp == g.fingerprint ||
               (fp == g.failed_fingerprint && now - g.failed_at_ms < RETRY_FAILED_MS)) {
        st = CLAM_RELOAD_UNCHANGED;
    } else {
        log_info("event=clamav_reload_start dir=%s files=%zu", g.db_dir, files);
        engine *e = engine_load(err, errlen);
        if (e) {
            engine_swap(e);
            g.fingerprint = fp;
            g.failed_fingerprint = 0;
            st = CLAM_RELOAD_DONE;
            log_info("event=clamav_reloaded engine=%u signatures=%u libclamav=%s", e->number,
                     e->sigs, cl_retver());
        } else {
            g.failed_fingerprint = fp;
            g.failed_at_ms = now;
            st = CLAM_RELOAD_FAILED;
        }
    }
    if (st == CLAM_RELOAD_FAILED)
        log_error("event=clamav_reload_failed dir=%s error=\"%s\" keeping=old_engine", g.db_dir,
                  err);
    pthread_mutex_unlock(&g.reload_lock);
    return st;
}

static void *reloader_main(void *arg)
{
    (void)arg;
    /* Loading a database is seconds of CPU: let the scans go first. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) != 0)
        log_debug("event=clamav_reloader_nice error=\"%s\"", strerror(errno));
    pthread_mutex_lock(&g.lock);
    uint64_t next = mono_ms() + g.cfg.reload_interval_ms;
    while (!g.stopping) {
        free_idle_retired();
        uint64_t now = mono_ms();
        if (now >= next) {
            pthread_mutex_unlock(&g.lock);
            char err[512];
            clam_reload_check(err, sizeof err);
            pthread_mutex_lock(&g.lock);
            next = mono_ms() + g.cfg.reload_interval_ms;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wait = next - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g.wake, &g.lock, &ts);
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

/* ---- start and stop ----------------------------------------------------------------- */

static bool make_tmpdir(const char *want, char *err, size_t errlen)
{
    if (want && *want) {
        struct stat st;
        if (stat(want, &st) != 0 || !S_ISDIR(st.st_mode) || access(want, W_OK | X_OK) != 0) {
            snprintf(err, errlen, "clamav_tmpdir %s is not a writable directory", want);
            return false;
        }
        g.tmpdir = xstrdup(want);
        g.own_tmpdir = false;
        return true;
    }
    const char *base = "/dev/shm";
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode) || access(base, W_OK | X_OK) != 0) {
        base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
    }
    char *path = xasprintf("%s/bulwark-clamav-XXXXXX", base);
    if (!mkdtemp(path)) {
        snprintf(err, errlen, "cannot create a temp directory under %s: %s", base, strerror(errno));
        free(path);
        return false;
    }
    g.tmpdir = path;
    g.own_tmpdir = true;
    return true;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void forget_config(void)
{
    if (g.own_tmpdir && g.tmpdir)
        nftw(g.tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g.tmpdir);
    free(g.db_dir);
    g.tmpdir = g.db_dir = NULL;
    g.own_tmpdir = false;
}

bool clam_start(const clam_config *c, char *err, size_t errlen)
{
    pthread_once(&init_once, init_libclamav);
    if (init_rc != CL_SUCCESS) {
        snprintf(err, errlen, "cl_init failed: %s", cl_strerror(init_rc));
        return false;
    }
    if (!c->db_dir || !*c->db_dir) {
        snprintf(err, errlen, "no signature directory given (clamav_db_dir)");
        return false;
    }
    pthread_mutex_lock(&g.reload_lock);
    if (g.started) {
        pthread_mutex_unlock(&g.reload_lock);
        snprintf(err, errlen, "ClamAV is already started");
        return false;
    }
    g.cfg = *c;
    g.db_dir = xstrdup(c->db_dir);
    g.cfg.db_dir = g.db_dir;
    g.cfg.tmpdir = NULL;
    g.loaded = 0;
    g.failed_fingerprint = 0;
    size_t files;
    if (!make_tmpdir(c->tmpdir, err, errlen) ||
        !fingerprint(g.db_dir, &g.fingerprint, &files, err, errlen) ||
        !have_files(files, err, errlen)) {
        forget_config();
        pthread_mutex_unlock(&g.reload_lock);
        return false;
    }
    engine *e = engine_load(err, errlen);
    if (!e) {
        forget_config();
        pthread_mutex_unlock(&g.reload_lock);
        return false;
    }
    engine_swap(e);
    g.started = true;
    g.stopping = false;
    pthread_mutex_unlock(&g.reload_lock);

    if (c->reload_interval_ms) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&g.wake, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_lock(&g.lock);
        int rc = pthread_create(&g.thread, NULL, reloader_main, NULL);
        g.thread_running = rc == 0;
        pthread_mutex_unlock(&g.lock);
        if (rc != 0)
            log_error("event=clamav_reloader_failed error=\"%s\" hint=\"signatures will not "
                      "be reloaded until restart\"",
                      strerror(rc));
    }
    log_info("event=clamav_started dir=%s tmpdir=%s signatures=%u libclamav=%s "
             "reload_interval_ms=%llu",
             g.db_dir, g.tmpdir, e->sigs, cl_retver(), (unsigned long long)c->reload_interval_ms);
    return true;
}

void clam_stop(void)
{
    pthread_mutex_lock(&g.lock);
    bool joining = g.thread_running;
    g.stopping = true;
    if (joining)
        pthread_cond_signal(&g.wake);
    pthread_mutex_unlock(&g.lock);
    if (joining) {
        pthread_join(g.thread, NULL);
        pthread_mutex_lock(&g.lock);
        g.thread_running = false; /* before the condition goes */
        pthread_mutex_unlock(&g.lock);
        pthread_cond_destroy(&g.wake);
    }
    pthread_mutex_lock(&g.reload_lock);
    pthread_mutex_lock(&g.lock);
    engine *cur = g.current, *ret = g.retired;
    g.current = NULL;
    g.retired = NULL;
    pthread_mutex_unlock(&g.lock);
    if (cur && --cur->refs == 0)
        engine_free(cur);
    else if (cur)
        log_error("event=clamav_stop_busy engine=%u scans=%u", cur->number, cur->refs);
    while (ret) {
        engine *next = ret->next;
        if (ret->refs == 0)
            engine_free(ret);
        else
            log_error("event=clamav_stop_busy engine=%u scans=%u", ret->number, ret->refs);
        ret = next;
    }
    if (g.started)
        log_info("event=clamav_stopped");
    g.started = false;
    forget_config();
    pthread_mutex_unlock(&g.reload_lock);
}

/* ---- scanning ----------------------------------------------------------------------- */

/* Heuristic families that check.clamav.heuristics turns on: suspicious, not proof.
 * Other Heuristics.* names (Heuristics.W32.*, Heuristics.Exploit.*,
 * Heuristics.Zip.OverlappingFiles...) are libclamav's built-in detections of known
 * malware and count as viruses. */
static const char *const soft_heuristics[] = {
    "Heuristics.Encrypted.",
    "Heuristics.OLE2.ContainsMacros",
    "Heuristics.Phishing.",
    "Heuristics.Safebrowsing.",
    "Heuristics.Broken.",
    "Heuristics.Structured.",
    "Heuristics.PDF.",
    "Heuristics.APMPartition",
    "Heuristics.GPTPartition",
    "Heuristics.MBRPartition",
    NULL,
};

static clam_status classify(const char *name)
{
    if (strncmp(name, "Heuristics.Limits.Exceeded", 26) == 0 ||
        strcmp(name, "Heuristics.XZ.DicSizeLimit") == 0)
        return CLAM_LIMITS;
    for (size_t i = 0; soft_heuristics[i]; i++)
        if (strncmp(name, soft_heuristics[i], strlen(soft_heuristics[i])) == 0)
            return CLAM_HEURISTIC;
    return CLAM_VIRUS;
}

/* libclamav makes a directory per scan in its temp directory and, if it cannot,
 * logs an error and reports the message clean. Our private directory cleaned away
 * (tmpfiles, /dev/shm emptied) is made again; another one missing fails the scan. */
static bool tmpdir_usable(void)
{
    if (!g.tmpdir || access(g.tmpdir, W_OK | X_OK) == 0)
        return true;
    if (!g.own_tmpdir)
        return false;
    if (mkdir(g.tmpdir, 0700) != 0 && errno != EEXIST)
        return false;
    log_warn("event=clamav_tmpdir_recreated tmpdir=%s", g.tmpdir);
    return true;
}

void clam_scan(const uint8_t *data, size_t len, const char *name, bool heuristics, clam_result *r)
{
    memset(r, 0, sizeof *r);
    engine *e = engine_get();
    if (!e) {
        r->status = CLAM_UNAVAILABLE;
        snprintf(r->name, sizeof r->name,
                 "no ClamAV engine loaded (bulwark-node: clamav_db_dir is empty; bulwarkctl scan "
                 "--local: no --clamav-db)");
        return;
    }
    r->engine = e->number;
    if (len == 0) {
        r->status = CLAM_CLEAN;
        engine_release(e);
        return;
    }
    if (!tmpdir_usable()) {
        r->status = CLAM_ERROR;
        snprintf(r->name, sizeof r->name, "libclamav's temp directory %s is not usable: %s",
                 g.tmpdir, strerror(errno));
        engine_release(e);
        return;
    }
    struct cl_scan_options opt;
    memset(&opt, 0, sizeof opt);
    opt.parse = ~0u; /* every parser: mail, archives, OLE2, PDF, HTML, PE, ELF... */
    opt.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
    if (heuristics) {
        /* Not PHISHING_SSL_MISMATCH (clamd's default is off too: many false
         * positives with tracking links), nor BROKEN_MEDIA, nor the DLP ones. */
        opt.general |= CL_SCAN_GENERAL_HEURISTICS;
        opt.heuristic |= CL_SCAN_HEURISTIC_BROKEN | CL_SCAN_HEURISTIC_PHISHING_CLOAK |
                         CL_SCAN_HEURISTIC_MACROS | CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
                         CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
    }
    cl_fmap_t *map = cl_fmap_open_memory(data, len);
    if (!map) {
        r->status = CLAM_ERROR;
        snprintf(r->name, sizeof r->name, "cannot map %zu bytes for libclamav", len);
        engine_release(e);
        return;
    }
    scan_ctx ctx = {name ? name : "", NULL, ""};
    const char *virname = NULL;
    unsigned long scanned = 0;
    cl_error_t rc = cl_scanmap_callback(map, name, &virname, &scanned, e->cl, &opt, &ctx);
    cl_fmap_close(map);
    switch (rc) {
    case CL_CLEAN:
        r->status = ctx.failed[0] ? CLAM_ERROR : CLAM_CLEAN;
        snprintf(r->name, sizeof r->name, "%s", ctx.failed);
        break;
    case CL_VIRUS:
        if (!virname)
            virname = ctx.found;
        if (!virname && len > e->max_filesize)
            virname = "Heuristics.Limits.Exceeded.MaxFileSize";
        /* A detection without a name is still a detection: a virus, fail-closed. */
        snprintf(r->name, sizeof r->name, "%s", virname ? virname : "unnamed detection");
        r->status = classify(r->name);
        break;
    case CL_EMAXREC:
    case CL_EMAXSIZE:
    case CL_EMAXFILES:
    case CL_ETIMEOUT:
        r->status = CLAM_LIMITS;
        snprintf(r->name, sizeof r->name, "%s", cl_strerror(rc));
        break;
    default: r->status = CLAM_ERROR; snprintf(r->name, sizeof r->name, "%s", cl_strerror(rc));
    }
    engine_release(e);
}

bool clam_available(void)
{
    pthread_mutex_lock(&g.lock);
    bool ok = g.current != NULL;
    pthread_mutex_unlock(&g.lock);
    return ok;
}

unsigned clam_signatures(void)
{
    pthread_mutex_lock(&g.lock);
    unsigned n = g.current ? g.current->sigs : 0;
    pthread_mutex_unlock(&g.lock);
    return n;
}

unsigned clam_engine_number(void)
{
    pthread_mutex_lock(&g.lock);
    unsigned n = g.current ? g.current->number : 0;
    pthread_mutex_unlock(&g.lock);
    return n;
}

const char *clam_version(void)
{
    return cl_retver();
}

const char *clam_status_name(clam_status s)
{
    switch (s) {
    case CLAM_CLEAN: return "clean";
    case CLAM_VIRUS: return "virus";
    case CLAM_HEURISTIC: return "heuristic";
    case CLAM_LIMITS: return "limits";
    case CLAM_ERROR: return "error";
    case CLAM_UNAVAILABLE: return "unavailable";
    }
    return "unknown";
}
