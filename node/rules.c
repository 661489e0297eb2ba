/* rules.c - (being written) */
#include "util.h"
