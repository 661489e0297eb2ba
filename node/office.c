/* office.c - (being written) */
#include "util.h"
