/* office.h - active content in Office documents and PDFs, from one file's bytes.
 *
 * OLE2 compound files (.doc, .xls, .ppt, a docm's vbaProject.bin): VBA projects, the
 * auto-run procedures and suspicious calls in their (MS-OVBA decompressed) source,
 * Excel 4 macro sheets and their Auto_Open names, executables embedded as OLE
 * packages. OOXML (.docm, .xlsm, .pptm...: zip): office.c opens the zip itself (with
 * libarchive, bounded) and reads the parts that matter (vbaProject.bin, macro sheets,
 * embeddings), so a document is judged whole whether or not the archive walk opened
 * it; the office check therefore skips the OLE2 members (vbaProject.bin, embeddings)
 * the walk lists under an OOXML parent, so nothing is reported twice. PDF:
 * the dictionary keys of active content (/JavaScript, /OpenAction, /Launch...), also
 * inside FlateDecode streams and object streams and behind #xx name escapes, and
 * executables in embedded file streams. Bounded in time and memory; never fails. */
#ifndef BW_OFFICE_H
#define BW_OFFICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OFFICE_KIND_NONE, /* none of these: nothing to report */
    OFFICE_KIND_OLE2,
    OFFICE_KIND_OOXML,
    OFFICE_KIND_PDF,
} office_kind;

/* Findings (office_report.flags). */
enum {
    OFFICE_F_MACRO = 1u << 0, /* a VBA project or an Excel 4 macro sheet */
    OFFICE_F_AUTOEXEC = 1u << 1, /* a procedure that runs on open/close (names in autoexec) */
    OFFICE_F_SUSPICIOUS = 1u << 2, /* Shell, CreateObject, URLDownloadToFile... (in calls) */
    OFFICE_F_EMBEDDED_EXE = 1u << 3, /* a PE executable inside (OLE package, embedding) */
    OFFICE_F_BROKEN = 1u << 4, /* looks like OLE2/OOXML/PDF but does not parse */
    OFFICE_F_XLM = 1u << 5, /* Excel 4 (XLM) macro sheet */
    PDF_F_JAVASCRIPT = 1u << 8, /* /JavaScript or /JS */
    PDF_F_OPENACTION = 1u << 9, /* /OpenAction or /AA (additional actions) */
    PDF_F_LAUNCH = 1u << 10, /* /Launch: runs a program */
    PDF_F_EMBEDDED_FILE = 1u << 11, /* /EmbeddedFile(s) */
    PDF_F_EMBEDDED_EXE = 1u << 12, /* an embedded stream that is a PE executable */
    PDF_F_RICHMEDIA = 1u << 13, /* /RichMedia (Flash) */
    PDF_F_SUBMITFORM = 1u << 14, /* /SubmitForm: sends form data away */
    PDF_F_OBFUSCATED = 1u << 15, /* one of the names above written with #xx escapes */
};

typedef struct {
    office_kind kind;
    unsigned flags; /* OFFICE_F_*, PDF_F_* */
    unsigned uris; /* PDF: /URI actions */
    unsigned modules; /* VBA modules whose source was read */
    char autoexec[128]; /* auto-run procedures found, comma-separated ("AutoOpen") */
    char calls[128]; /* suspicious calls found, comma-separated ("Shell, CreateObject") */
    char where[128]; /* the stream or part the first finding came from */
} office_report;

/* What the bytes are, by content (the detected type is a hint for OOXML). */
office_kind office_kind_of(const uint8_t *data, size_t len, const char *detected_type);

/* Inspects one file; fills r (zeroed first). Returns true if there is any finding. */
bool office_scan(const uint8_t *data, size_t len, const char *detected_type, office_report *r);

/* MS-OVBA decompression of a CompressedContainer (starting with 0x01) into at most
 * max bytes (owned by the caller; free()). NULL when it is not one. For the tests. */
uint8_t *office_ovba_decompress(const uint8_t *src, size_t len, size_t max, size_t *outlen);

#endif
