/*
 * err.h — how every library function in mrcnn reports failure.
 *
 * A function that can fail returns an int: MR_OK (0) on success, or a negative
 * code, and fills a caller-provided mr_err with a one-line message that names
 * what failed (file, record, field) and what was expected. Nothing in the
 * library prints or exits: only cli/ turns an mr_err into a message and an
 * exit code (MR_EUSER and MR_EIO -> 1, MR_EUSAGE -> 2, others -> 1).
 *
 * defines: mr_err, MR_OK, MR_EUSER, MR_EIO, MR_ENOMEM, MR_EUSAGE, MR_EINTERNAL,
 *          mr_errf, mr_err_clear
 */
#ifndef MR_ERR_H
#define MR_ERR_H

#include <stddef.h>

enum {
    MR_OK = 0,
    MR_EUSER = -1,     /* bad input: malformed file, wrong field, bad value */
    MR_EIO = -2,       /* a file could not be opened, read or written */
    MR_ENOMEM = -3,    /* allocation failed */
    MR_EUSAGE = -4,    /* command-line usage error */
    MR_EINTERNAL = -5, /* a broken invariant: a bug in mrcnn */
};

typedef struct mr_err {
    int code;
    char msg[1024];
} mr_err;

/* Fill e (may be NULL) with code and a printf-style message; returns code so
 * callers can write `return mr_errf(e, MR_EUSER, "%s: ...", path);`. */
int mr_errf(mr_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "prefix: old message". Returns e->code. */
int mr_err_prefix(mr_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void mr_err_clear(mr_err *e) { if (e) { e->code = MR_OK; e->msg[0] = 0; } }

#endif
