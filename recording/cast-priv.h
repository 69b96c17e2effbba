/*
 * cast-priv.h - what the files of recording/ share and nothing else
 * includes: the streaming UTF-8 decoder + JSON escaper of the writer.
 */
#ifndef GATEHOUSE_RECORDING_CAST_PRIV_H
#define GATEHOUSE_RECORDING_CAST_PRIV_H

#include <stddef.h>
#include <stdint.h>

/* Version of our "gatehouse" header object (recording/README.md). */
#define GH_CAST_GATEHOUSE_FORMAT 1

/* What stands for bytes that are not UTF-8. */
#define GH_CAST_REPLACEMENT 0xfffdu

/* A UTF-8 sequence begun and not finished (zeroed = nothing pending). */
struct gh_cast_u8 {
    uint32_t cp;           /* bits gathered so far */
    unsigned char n, need; /* bytes seen, bytes the sequence needs */
    unsigned char lo, hi;  /* range the next byte must be in */
};

/*
 * Decode in[0..len) through u and append it to out at *olen, escaped for
 * the inside of a JSON string, until the input is used up or *olen
 * reaches limit (it may pass limit by at most 9 bytes: the caller keeps
 * that much room). An incomplete sequence at the end stays in u.
 * Returns the input bytes consumed.
 */
size_t gh_cast_escape(struct gh_cast_u8 *u, const unsigned char *in, size_t len,
                      char *out, size_t *olen, size_t limit);

/* A sequence left in u becomes U+FFFD at out (at most 3 bytes);
 * returns the bytes written (0 when nothing was pending). */
size_t gh_cast_escape_end(struct gh_cast_u8 *u, char *out);

#endif
