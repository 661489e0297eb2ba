/* action.h - the verdict actions of the protocol (proto Action) by name.
 *
 * One table for every program: the pipeline's policy, the master's message log,
 * the milter's log lines and bulwarkctl's output and options all use these. */
#ifndef BW_ACTION_H
#define BW_ACTION_H

#include "bulwark.pb-c.h"

#include <stdbool.h>

/* "pass", "tag", "quarantine", "reject", "tempfail"; "unknown" for anything else. */
const char *action_name(Bulwark__Action a);
/* The action named s; false when s names none. */
bool action_parse(const char *s, Bulwark__Action *out);
/* Severity order used to combine actions: pass < tag < tempfail < quarantine < reject. */
int action_severity(Bulwark__Action a);

#endif
