/*
 * json_fast.h — a small pull-style JSON reader over an in-memory buffer, for
 * the large COCO files (tens of MB) where building a cJSON tree costs more
 * than the whole evaluation (see docs/eval.md). It never allocates except
 * for unescaping strings into a caller buffer; numbers are converted to the
 * correctly rounded double (Clinger's exact fast path for up to 15 digits
 * and |exponent| <= 22, strtod otherwise), so values equal Python's json.
 *
 * Errors: the reader remembers the first error (position as line:column and
 * what was expected); callers add the record and field (mr_jr_fail).
 *
 * The writers of those files (COCO datasets and results, eval summaries)
 * stream their JSON with fprintf; mr_jw_str writes a string for them.
 *
 * defines: mr_jr, mr_jr_init, mr_jr_init_padded, MR_JR_PAD, mr_jr_peek, mr_jr_eat, mr_jr_expect,
 *          mr_jr_string, mr_jr_number, mr_jr_num_array, mr_jr_num_array_into, mr_jr_skip,
 *          mr_jr_skip_fast, mr_jr_next_item, mr_jr_next_key, mr_jr_fail,
 *          mr_jr_lit, mr_jr_window, MR_JT_*, mr_jw_str
 */
#ifndef MR_JSON_FAST_H
#define MR_JSON_FAST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/err.h"

typedef struct mr_jr {
    const char *buf, *p, *end;
    const char *file;   /* for messages */
    mr_err *e;
    int failed;
    int padded;   /* at least MR_JR_PAD readable bytes follow end (mr_jr_init_padded) */
    /* a window of a file read piecewise (mr_jr_window): buf is at file
     * offset base; messages count lines from the file's start (read with
     * pread from fd) */
    size_t base;
    int fd;
} mr_jr;

/* the readable bytes a padded buffer has after its end (any values) */
#define MR_JR_PAD 64

/* value kinds by first char */
enum { MR_JT_END = 0, MR_JT_OBJ, MR_JT_ARR, MR_JT_STR, MR_JT_NUM, MR_JT_TRUE, MR_JT_FALSE,
       MR_JT_NULL, MR_JT_BAD };

void mr_jr_init(mr_jr *j, const char *buf, size_t len, const char *file, mr_err *e);
/* the same for a buffer followed by MR_JR_PAD readable bytes: numbers are
 * then read 8 bytes at a time (the values are the same) */
void mr_jr_init_padded(mr_jr *j, const char *buf, size_t len, const char *file, mr_err *e);
/* move a padded reader onto a new window of a file: buf[0..len) holds
 * the file's bytes from offset base, reading goes on at p (fd: the file,
 * for line numbers in messages) */
void mr_jr_window(mr_jr *j, const char *buf, size_t len, const char *p, size_t base, int fd);
/* skip whitespace; the kind of the next value */
int mr_jr_peek(mr_jr *j);
/* consume char c after whitespace if present: 1 if consumed */
int mr_jr_eat(mr_jr *j, char c);
/* consume c or fail ("expected 'c'") */
int mr_jr_expect(mr_jr *j, char c);
/* a string: *s and *n point into the buffer when it has no escapes (*esc = 0);
 * otherwise the unescaped text is written to a malloc'd *s (*esc = 1, the
 * caller frees). */
int mr_jr_string(mr_jr *j, const char **s, size_t *n, int *esc);
/* a number: *d its value; *is_int set when it is written without '.', 'e'
 * and fits int64 (*i then holds it) */
int mr_jr_number(mr_jr *j, double *d, int64_t *i, int *is_int);
/* an array of numbers into *buf (grown with realloc, capacity *cap), *n of
 * them; 0 ok, -1 error, -2 when an element is not a number (j->p is at it,
 * *n = its index; nothing reported yet, so the caller can name the field) */
int mr_jr_num_array(mr_jr *j, double **buf, size_t *cap, size_t *n);
/* the same into dst, which holds cap numbers: -3 when the array has more
 * (j->p is then somewhere inside it: the caller goes back to where it
 * started and reads it with mr_jr_num_array) */
int mr_jr_num_array_into(mr_jr *j, double *dst, size_t cap, size_t *n);
/* true/false/null literal -> 1/0/-1; anything else fails */
int mr_jr_lit(mr_jr *j, int *v);
/* skip any value */
int mr_jr_skip(mr_jr *j);
/* skip a value checking only brackets and strings (not numbers or commas):
 * for large parts the caller does not need */
int mr_jr_skip_fast(mr_jr *j);
/* iterate an array: call after '[' was consumed with first = 1, then 0;
 * returns 1 while there is another item, 0 at ']' (consumed), -1 on error */
int mr_jr_next_item(mr_jr *j, int first);
/* iterate an object: after '{' with first = 1; returns 1 with the key (a
 * pointer into the buffer, keys with escapes are compared unescaped only in
 * their raw form), 0 at '}', -1 on error; the ':' is consumed */
int mr_jr_next_key(mr_jr *j, int first, const char **key, size_t *klen);
/* fail with "FILE: WHERE: WHAT" (first failure wins); returns MR_EUSER */
int mr_jr_fail(mr_jr *j, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* s as a JSON string literal: quotes, '"' and backslash escaped, control
 * characters as \u00XX; bytes >= 0x80 pass through (UTF-8 stays UTF-8) */
void mr_jw_str(FILE *f, const char *s);

#endif
