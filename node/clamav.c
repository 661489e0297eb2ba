/* clamav.c - (being written) */
#include "util.h"
