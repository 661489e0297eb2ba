/* unicode.c - (being written) */
#include "util.h"
