/* mailbox.h - pointers handed between a daemon's main loop and one of its threads.
 *
 * Two ends of an inproc PAIR: the main loop polls one, the thread the other. Each
 * message is one pointer, and ownership of the object travels with it. The mailbox
 * counts what is out (posted or notified, not yet collected by the main loop), so
 * a thread that stalls (a hung database) cannot be handed unbounded work. */
#ifndef BW_MAILBOX_H
#define BW_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mailbox mailbox;

/* `name` makes the inproc endpoint unique in the process. */
mailbox *mailbox_new(void *ctx, const char *name, size_t max_out);
/* Closes both ends; pointers still in flight are not freed (collect them first). */
void mailbox_destroy(mailbox **mb);
/* The main loop's end, to poll for answers. */
void *mailbox_main_socket(mailbox *mb);

/* Main loop -> thread. False (nothing sent) when max_out are already out. */
bool mailbox_post(mailbox *mb, void *p);
/* Main loop -> thread, outside the count: NULL, which tells the thread to stop. */
void mailbox_stop(mailbox *mb);
/* Thread side: the next pointer (NULL is the stop). With wait_ms >= 0 waits at most
 * that long, -1 forever; false when nothing came. */
bool mailbox_take(mailbox *mb, long wait_ms, void **p);
/* Thread -> main loop: a posted pointer given back. */
void mailbox_answer(mailbox *mb, void *p);
/* Thread -> main loop, unasked: counted as out until collected. */
void mailbox_notify(mailbox *mb, void *p);
/* Main loop, without waiting: the next pointer back, or NULL. */
void *mailbox_collect(mailbox *mb);
/* Pointers out (posted or notified, not collected). */
size_t mailbox_out(const mailbox *mb);

#endif
