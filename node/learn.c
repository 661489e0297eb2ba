/* learn.c - (being written) */
#include "util.h"
