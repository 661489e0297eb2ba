/* filetype.c - libmagic behind filetype_detect(), one cookie per thread. */
#include "filetype.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <magic.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static pthread_key_t cookie_key;
static pthread_once_t cookie_once = PTHREAD_ONCE_INIT;

static void cookie_close(void *c)
{
    magic_close(c);
}

static void cookie_init(void)
{
    if (pthread_key_create(&cookie_key, cookie_close) != 0)
        log_panic("filetype: pthread_key_create failed");
}

static magic_t cookie(void)
{
    pthread_once(&cookie_once, cookie_init);
    magic_t m = pthread_getspecific(cookie_key);
    if (m)
        return m;
    /* No decompression, no following into compressed data: archives are the archive
     * walk's business; libmagic only names the outer format. */
    m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS |
                   MAGIC_NO_CHECK_ENCODING);
    if (!m || magic_load(m, NULL) != 0) {
        log_error("filetype: libmagic database not loaded: %s", m ? magic_error(m) : "no memory");
        if (m)
            magic_close(m);
        return NULL;
    }
    pthread_setspecific(cookie_key, m);
    return m;
}

const char *filetype_detect(const uint8_t *data, size_t len, char *out, size_t outlen)
{
    if (!outlen)
        return out;
    out[0] = '\0';
    if (!len)
        return out;
    magic_t m = cookie();
    const char *t = m ? magic_buffer(m, data, len < FILETYPE_PEEK ? len : FILETYPE_PEEK) : NULL;
    if (!t || !*t)
        t = "application/octet-stream";
    size_t i = 0;
    for (; t[i] && i + 1 < outlen; i++)
        out[i] = (char)tolower((unsigned char)t[i]);
    out[i] = '\0';
    return out;
}

int filetype_is_executable(const char *mime)
{
    static const char *const exec[] = {
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/x-ms-ne-executable",
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/x-msi",
        "application/x-ms-shortcut",
        "application/x-ms-installer",
        "application/java-archive",
        "application/x-java-applet",
        "application/x-bat",
        "application/x-msdos-program",
        "application/hta",
        "text/x-msdos-batch",
        "application/x-ms-compress-szdd",
    };
    if (!mime)
        return 0;
    for (size_t i = 0; i < sizeof exec / sizeof exec[0]; i++)
        if (strcmp(mime, exec[i]) == 0)
            return 1;
    return 0;
}
