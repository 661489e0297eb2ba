/* html.c - (being written) */
#include "util.h"
