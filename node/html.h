/* html.h - HTML to visible text and links (libxml2's HTML parser), URLs in plain
 * text, and the parts of a URL the checks judge.
 *
 * Pure functions over bytes: no GMime, no scan task, so the fuzz target and the unit
 * tests drive them directly. Everything returned lives in the html_doc (or, for
 * url_parse, in the caller's buffer) and is freed with it. Input is UTF-8 (the
 * message model converts first); invalid bytes are tolerated, never trusted. */
#ifndef BW_HTML_H
#define BW_HTML_H

#include <stdbool.h>
#include <stddef.h>

/* Where a URL was found and how it was shown. */
enum {
    URL_FROM_TEXT = 1u << 0, /* found in plain text */
    URL_FROM_HREF = 1u << 1, /* <a href> / <area href> */
    URL_FROM_FORM = 1u << 2, /* <form action> */
    URL_FROM_IMG = 1u << 3, /* <img src> and other embedded resources */
    URL_FROM_OTHER = 1u << 4, /* other attributes (iframe, script src, meta refresh...) */
};

/* What url_parse found in a URL. */
enum {
    URL_IP_HOST = 1u << 0, /* the host is an IPv4/IPv6 literal (also decimal/hex/octal forms) */
    URL_USERINFO = 1u << 1, /* user@host or user:pass@host before the host */
    URL_PUNYCODE = 1u << 2, /* a label starts with xn--, or the host is written in Unicode
                               (an IDN: browsers send it as xn--) */
    URL_DATA = 1u << 3, /* data: URI */
    URL_JAVASCRIPT = 1u << 4, /* javascript: or vbscript: URI */
    URL_BAD = 1u << 5, /* not parseable as a URL with a host */
    URL_NONSTD_PORT = 1u << 6, /* an explicit port other than 80/443 */
    URL_MAILTO = 1u << 7, /* mailto: */
    URL_OBFUSCATED = 1u << 8, /* percent-encoded host, backslashes, or encoded '@' */
};

typedef struct {
    const char *url; /* as found (entities decoded, whitespace trimmed), UTF-8 */
    const char *host; /* lower case, IDNA-decoded is NOT done: as written, without port;
                         "" when there is none */
    const char *text; /* visible text of the link (HTML <a>), "" otherwise */
    unsigned from; /* URL_FROM_* */
    unsigned flags; /* URL_* from url_parse */
    unsigned part; /* index of the message part (filled in by the message model) */
} html_url;

typedef struct {
    unsigned forms; /* <form> elements */
    unsigned password_fields; /* <input type=password> */
    unsigned inputs; /* other <input> fields */
    unsigned scripts; /* <script> elements */
    unsigned event_handlers; /* on* attributes (onclick, onload...) */
    unsigned iframes; /* <iframe>, <frame>, <object>, <embed> */
    unsigned hidden_text; /* elements with visible text hidden by style (display:none,
                             visibility:hidden, font-size:0/1px, colour equal to
                             background, opacity:0) */
    unsigned tiny_text; /* elements with text at font-size <= 2px or <font size=1> */
    unsigned meta_refresh; /* <meta http-equiv=refresh> */
    unsigned base_href; /* <base href> */
    unsigned images; /* <img> */
    size_t text_len; /* bytes of visible text */
    size_t hidden_len; /* bytes of text hidden by style (a preheader is ~100; stuffing more) */
    bool parse_error; /* libxml2 gave up (the text collected so far is kept) */
} html_stats;

typedef struct html_doc html_doc;

/* Parses len bytes of HTML (UTF-8). Never NULL. */
html_doc *html_parse(const char *html, size_t len);
void html_free(html_doc **d);
/* Visible text, blocks separated by newlines, NUL-terminated UTF-8. */
const char *html_text(const html_doc *d, size_t *len);
size_t html_urls(const html_doc *d, const html_url **urls);
const html_stats *html_get_stats(const html_doc *d);

/* URLs in plain text: scheme URLs (http, https, ftp), www.-prefixed hosts, and bare
 * host/path forms with a known top-level domain. Calls cb for each; stops when cb
 * returns false. `url` is not NUL-terminated. */
void text_find_urls(const char *text, size_t len, bool (*cb)(const char *url, size_t n, void *ctx),
                    void *ctx);

/* Parses url into its host (lower case, no port, written NUL-terminated into host)
 * and URL_* flags. Returns the flags; host is "" when there is none. */
unsigned url_parse(const char *url, char *host, size_t hostlen);

/* The registrable domain of a host (libpsl, the public suffix list): "example.co.uk"
 * for "www.example.co.uk"; the host itself when it is an IP literal or has no known
 * suffix. Written into out; used to compare a link's text with its target. */
void url_base_domain(const char *host, char *out, size_t outlen);

#endif
