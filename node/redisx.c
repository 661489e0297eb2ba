/* redisx.c - (being written) */
#include "util.h"
