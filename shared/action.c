/* action.c - names and severity of the verdict actions (proto Action).
 *
 * The table follows the enum's order in proto/bulwark.proto. */
#include "action.h"

#include <string.h>

static const char *action_names[] = {"pass", "tag", "quarantine", "reject", "tempfail"};

const char *action_name(Bulwark__Action a)
{
    return (unsigned)a < 5 ? action_names[a] : "unknown";
}

bool action_parse(const char *s, Bulwark__Action *out)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, action_names[i]) == 0) {
            *out = (Bulwark__Action)i;
            return true;
        }
    }
    return false;
}

int action_severity(Bulwark__Action a)
{
    switch (a) {
    case BULWARK__ACTION__ACTION_PASS: return 0;
    case BULWARK__ACTION__ACTION_TAG: return 1;
    case BULWARK__ACTION__ACTION_TEMPFAIL: return 2;
    case BULWARK__ACTION__ACTION_QUARANTINE: return 3;
    case BULWARK__ACTION__ACTION_REJECT: return 4;
    default: return 0;
    }
}
