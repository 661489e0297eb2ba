/* fuzzy.c - (being written) */
#include "util.h"
