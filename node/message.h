/* message.h - the MIME model of a message, built with GMime 3.
 *
 * Parsed once per scan, on first use by a check (task_message()), and freed with the
 * task. It never fails: a message GMime cannot make sense of yields a model with
 * `broken` set and no parts, and the checks fall back to the raw bytes. This is the
 * start of the full model (decoded text, HTML, URLs) the content checks build on. */
#ifndef BW_MESSAGE_H
#define BW_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct msg_model msg_model;

typedef struct {
    const char *filename; /* decoded (RFC 2231, RFC 2047); "" when the part has none */
    const char *content_type; /* declared, lower case "type/subtype" */
    bool attachment; /* Content-Disposition: attachment */
} msg_part;

/* The raw message is copied; the model owns everything it returns. */
msg_model *msg_parse(const uint8_t *raw, size_t len);
void msg_destroy(msg_model **m);
/* Leaf parts in document order (multipart containers are walked, not listed). */
size_t msg_parts(const msg_model *m, const msg_part **parts);
/* GMime could not parse a message at all. */
bool msg_broken(const msg_model *m);
/* Parts beyond this are not listed (a 2,000-part bomb costs a bounded walk). */
#define MSG_MAX_PARTS 4096

#endif
