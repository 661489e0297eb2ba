/* dkimctl.h - `bulwarkctl dkim verify|sign|keygen` (node/dkimctl.c). */
#ifndef BW_DKIMCTL_H
#define BW_DKIMCTL_H

/* argv[0] is "dkim". Returns the exit status: 0 done (verify: every file has a
 * passing signature), 1 failed, 2 usage (after printing why). */
int dkimctl_main(int argc, char **argv);

#endif
