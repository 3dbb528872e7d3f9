/*
 * strbuf.h — a growing text built with printf-style appends (plot
 * scripts, ablate --plan). The buffer stays NUL-terminated; on out of
 * memory it stops growing and sets oom (the caller checks it once at the
 * end). Free p with free().
 *
 * defines: mr_strbuf, mr_strbuf_add
 */
#ifndef MR_STRBUF_H
#define MR_STRBUF_H

#include <stddef.h>

typedef struct mr_strbuf {
    char *p;          /* NULL until the first append */
    size_t n, cap;    /* length (without the NUL) and capacity */
    int oom;          /* an append failed for memory */
} mr_strbuf;

void mr_strbuf_add(mr_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
