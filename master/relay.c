/* relay.c - SMTP delivery of one message with libcurl.
 *
 * curl speaks the SMTP dialogue; we feed it the message from memory and keep the
 * last line the server sent (through the debug callback, the only place curl
 * shows it) so the operator sees the relay's own words: "250 2.0.0 Ok: queued as
 * ABC" on success, or the refusal. The message must already use CRLF line ends
 * or LF (curl does the dot-stuffing); it is sent exactly as stored. */
#include "relay.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *data;
    size_t len, off;
    char last[512]; /* the server's last reply line */
} relay_io;

static size_t read_cb(char *out, size_t size, size_t nmemb, void *arg)
{
    relay_io *io = arg;
    size_t want = size * nmemb, left = io->len - io->off;
    size_t n = want < left ? want : left;
    memcpy(out, io->data + io->off, n);
    io->off += n;
    return n;
}

static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
    relay_io *io = arg;
    if (type != CURLINFO_HEADER_IN || size < 3)
        return 0;
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    snprintf(io->last, sizeof io->last, "%.*s", (int)size, data);
    return 0;
}

bool relay_send(const char *url, const char *from, char *const *rcpt, size_t nrcpt, const void *msg,
                size_t len, char *reply, size_t replylen)
{
    if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
        snprintf(reply, replylen, "quarantine.release_relay '%s' is not smtp://HOST:PORT", url);
        return false;
    }
    if (!nrcpt) {
        snprintf(reply, replylen, "no recipients");
        return false;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(reply, replylen, "curl_easy_init failed");
        return false;
    }
    relay_io io = {msg, len, 0, ""};
    struct curl_slist *to = NULL;
    for (size_t i = 0; i < nrcpt; i++) {
        char addr[1100];
        snprintf(addr, sizeof addr, "<%s>", rcpt[i]);
        to = curl_slist_append(to, addr);
    }
    char mail_from[1100];
    snprintf(mail_from, sizeof mail_from, "<%s>", from ? from : "");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &io);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &io);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        snprintf(reply, replylen, "%s", io.last[0] ? io.last : "250 accepted");
    else
        snprintf(reply, replylen, "%s%s%s", errbuf[0] ? errbuf : curl_easy_strerror(rc),
                 io.last[0] ? ": " : "", io.last);
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
    return rc == CURLE_OK;
}
