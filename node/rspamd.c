/* rspamd.c - (being written) */
#include "util.h"
