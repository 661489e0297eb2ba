/* tokens.c - (being written) */
#include "util.h"
