/*
 * err.c — message formatting for mr_err (see err.h).
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mr_errf(mr_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

int mr_err_prefix(mr_err *e, const char *fmt, ...)
{
    if (!e) return MR_EINTERNAL;
    char prefix[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* the prefix keeps at most half the message, the old text the rest */
    snprintf(e->msg, sizeof e->msg, "%.511s: %.509s", prefix, old);
    return e->code;
}
