/* mailbox.c - an inproc PAIR carrying pointers, with a count of what is out.
 *
 * The thread's end binds inproc://bulwark-NAME, the main loop's end connects to
 * it. A message is exactly sizeof(void *) bytes; a send that fails is a broken
 * invariant (an inproc PAIR does not drop), so it panics. */
#include "mailbox.h"
#include "log.h"
#include "util.h"
#include "zmqx.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct mailbox {
    void *main_end, *thread_end;
    size_t max_out;
    atomic_size_t out;
};

mailbox *mailbox_new(void *ctx, const char *name, size_t max_out)
{
    mailbox *mb = xcalloc(1, sizeof *mb);
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://bulwark-%s", name);
    mb->max_out = max_out;
    mb->main_end = zx_socket(ctx, ZMQ_PAIR, 0);
    mb->thread_end = zx_socket(ctx, ZMQ_PAIR, 0);
    if (zmq_bind(mb->thread_end, ep) != 0 || zmq_connect(mb->main_end, ep) != 0)
        log_fatal("event=mailbox name=%s error=\"%s\"", name, zmq_strerror(zmq_errno()));
    return mb;
}

void mailbox_destroy(mailbox **mbp)
{
    mailbox *mb = *mbp;
    if (!mb)
        return;
    zmq_close(mb->main_end);
    zmq_close(mb->thread_end);
    free(mb);
    *mbp = NULL;
}

void *mailbox_main_socket(mailbox *mb)
{
    return mb->main_end;
}

static void send_ptr(void *sock, void *p)
{
    if (zmq_send(sock, &p, sizeof p, 0) != (int)sizeof p)
        log_panic("event=mailbox_send error=\"%s\"", zmq_strerror(zmq_errno()));
}

static bool recv_ptr(void *sock, int flags, void **p)
{
    return zmq_recv(sock, p, sizeof *p, flags) == (int)sizeof *p;
}

bool mailbox_post(mailbox *mb, void *p)
{
    if (atomic_load(&mb->out) >= mb->max_out)
        return false;
    atomic_fetch_add(&mb->out, 1);
    send_ptr(mb->main_end, p);
    return true;
}

void mailbox_stop(mailbox *mb)
{
    send_ptr(mb->main_end, NULL);
}

bool mailbox_take(mailbox *mb, long wait_ms, void **p)
{
    if (wait_ms >= 0) {
        zmq_pollitem_t it = {mb->thread_end, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, wait_ms) <= 0)
            return false;
    }
    return recv_ptr(mb->thread_end, 0, p);
}

void mailbox_answer(mailbox *mb, void *p)
{
    send_ptr(mb->thread_end, p);
}

void mailbox_notify(mailbox *mb, void *p)
{
    atomic_fetch_add(&mb->out, 1);
    send_ptr(mb->thread_end, p);
}

void *mailbox_collect(mailbox *mb)
{
    void *p;
    if (!recv_ptr(mb->main_end, ZMQ_DONTWAIT, &p))
        return NULL;
    atomic_fetch_sub(&mb->out, 1);
    return p;
}

size_t mailbox_out(const mailbox *mb)
{
    return atomic_load(&((mailbox *)mb)->out);
}
