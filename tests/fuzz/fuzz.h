/* fuzz.h - the libFuzzer entry points, declared for -Wmissing-prototypes.
 *
 * Every tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput (one input, any
 * bytes; returns 0) and may define LLVMFuzzerInitialize (once, before the first
 * input). FUZZ_ASSERT aborts with the broken invariant, so libFuzzer saves the
 * input as a crash even in builds without assert(). */
#ifndef BW_FUZZ_H
#define BW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
