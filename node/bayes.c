/* bayes.c - (being written) */
#include "util.h"
