/* spfctl.h - `bulwarkctl spf`: an SPF check from the command line (node/spfctl.c). */
#ifndef BW_SPFCTL_H
#define BW_SPFCTL_H

/* argv[0] is "spf". Returns the exit status: 0 whatever the SPF result (every case was
 * evaluated), 2 for bad arguments or a bad --batch line (after saying why). */
int spfctl_main(int argc, char **argv);

#endif
