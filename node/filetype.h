/* filetype.h - what bytes really are (libmagic), thread-safe.
 *
 * libmagic's cookie is not safe to share between threads, so each thread opens its
 * own on first use (the compiled database is mapped once by the OS and shared); it
 * is closed when the thread ends. Only the first FILETYPE_PEEK bytes are looked at. */
#ifndef BW_FILETYPE_H
#define BW_FILETYPE_H

#include <stddef.h>
#include <stdint.h>

#define FILETYPE_PEEK (256 * 1024)

/* The MIME type of data ("application/x-dosexec", "text/plain"...), written into out
 * (lower case); "application/octet-stream" when libmagic cannot tell, "" for no
 * bytes. Returns out. */
const char *filetype_detect(const uint8_t *data, size_t len, char *out, size_t outlen);

/* True for the types that run code on Windows or macOS when opened (PE, ELF, Mach-O,
 * MSI, shortcuts, scripts libmagic recognises). */
int filetype_is_executable(const char *mime);

#endif
