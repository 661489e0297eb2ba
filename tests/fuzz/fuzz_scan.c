/* fuzz_scan.c - the whole local scan pipeline on an arbitrary message.
 *
 * One pipeline generation is built once from the cluster defaults (as a node has
 * before its first configuration arrives); each input is one scan job on it, as
 * in bulwark-node's worker and `bulwarkctl scan --local`. The verdict must be a
 * known action with a finite score, its symbols finite and named, and the three
 * X-Bulwark headers present; and it must pack and unpack as the node sends it. */
#include "fuzz.h"
#include "log.h"
#include "params.h"
#include "pipeline.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static pipeline *pl;
static Bulwark__Envelope env = BULWARK__ENVELOPE__INIT;
static char *rcpt[] = {"postmaster@example.org"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_init("fuzz_scan");
    log_set_level(LOG_ERROR);
    params *cfg = params_new(&params_cluster);
    char err[512];
    pl = pipeline_new(cfg, 1, err, sizeof err);
    params_destroy(&cfg);
    if (!pl) {
        fprintf(stderr, "fuzz_scan: pipeline_new: %s\n", err);
        abort();
    }
    env.client_ip = "192.0.2.10";
    env.helo = "mail.example.com";
    env.mail_from = "sender@example.com";
    env.n_rcpt = 1;
    env.rcpt = rcpt;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scan_task *t = scan_task_new(pl, "fuzz-job", &env, data, size);
    scan_run(t);
    const Bulwark__ScanResult *r = scan_result(t);
    FUZZ_ASSERT(r != NULL);
    FUZZ_ASSERT(r->action >= BULWARK__ACTION__ACTION_PASS &&
                r->action <= BULWARK__ACTION__ACTION_TEMPFAIL);
    FUZZ_ASSERT(strcmp(action_name(r->action), "unknown") != 0);
    FUZZ_ASSERT(isfinite(r->score));
    FUZZ_ASSERT(r->job_id && strcmp(r->job_id, "fuzz-job") == 0);
    for (size_t i = 0; i < r->n_symbols; i++)
        FUZZ_ASSERT(r->symbols[i]->name && isfinite(r->symbols[i]->score));
    /* The X-Bulwark-* status fields and Authentication-Results, whatever the input. */
    FUZZ_ASSERT(r->n_add_headers == 4);
    bool authres = false;
    for (size_t i = 0; i < r->n_add_headers; i++) {
        FUZZ_ASSERT(r->add_headers[i]->name && r->add_headers[i]->value);
        authres |= strcmp(r->add_headers[i]->name, "Authentication-Results") == 0;
    }
    FUZZ_ASSERT(authres);

    size_t n = bulwark__scan_result__get_packed_size(r);
    uint8_t *wire = malloc(n ? n : 1);
    FUZZ_ASSERT(wire && bulwark__scan_result__pack(r, wire) == n);
    Bulwark__ScanResult *back = bulwark__scan_result__unpack(NULL, n, wire);
    FUZZ_ASSERT(back && back->action == r->action && back->score == r->score &&
                back->n_symbols == r->n_symbols);
    bulwark__scan_result__free_unpacked(back, NULL);
    free(wire);
    scan_task_destroy(&t);
    FUZZ_ASSERT(t == NULL);
    return 0;
}
