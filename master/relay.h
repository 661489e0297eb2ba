/* relay.h - delivering a stored message by SMTP (quarantine release).
 *
 * One message, one connection, through libcurl's SMTP client: MAIL FROM the
 * original envelope sender (the null sender stays <>), RCPT TO each original
 * recipient, DATA the original bytes. Synchronous, with connect and total
 * timeouts; used only from the master's database thread. */
#ifndef BW_RELAY_H
#define BW_RELAY_H

#include <stdbool.h>
#include <stddef.h>

/* Delivers msg[0..len) to url (smtp://HOST:PORT or smtps://). On success, reply
 * gets the server's last line (e.g. "250 2.0.0 Ok: queued as ..."); on failure,
 * reply gets the reason (the server's refusal or the connection error). */
bool relay_send(const char *url, const char *from, char *const *rcpt, size_t nrcpt, const void *msg,
                size_t len, char *reply, size_t replylen);

#endif
