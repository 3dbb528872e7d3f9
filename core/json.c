/*
 * json.c — typed cJSON accessors with the project's error messages, JSON file
 * loading with line/column errors, and atomic JSON writing (see json.h).
 */
#include "core/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

#define MAX_EXACT 9007199254740992.0  /* 2^53 */

const char *mr_json_kind(const cJSON *v)
{
    if (!v) return "nothing";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNull(v)) return "null";
    return "invalid value";
}

/* The ": " that separates the file from the path inside it, or NULL. */
static const char *ctx_split(const char *ctx)
{
    const char *last = NULL;
    for (const char *p = strstr(ctx, ": "); p; p = strstr(p + 1, ": ")) last = p;
    return last;
}

const char *mr_json_ctx(char *buf, size_t n, const char *ctx, const char *key)
{
    snprintf(buf, n, ctx_split(ctx) ? "%s.%s" : "%s: %s", ctx, key);
    return buf;
}

/* "FILE: field PATH.KEY: <message>" (key may be NULL: the ctx object itself) */
static int field_err(mr_err *e, const char *ctx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int field_err(mr_err *e, const char *ctx, const char *key, const char *fmt, ...)
{
    char msg[768], where[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *sp = ctx_split(ctx);
    if (sp && key) snprintf(where, sizeof where, "%.*s: field %s.%s", (int)(sp - ctx), ctx, sp + 2, key);
    else if (sp) snprintf(where, sizeof where, "%.*s: field %s", (int)(sp - ctx), ctx, sp + 2);
    else if (key) snprintf(where, sizeof where, "%s: field %s", ctx, key);
    else snprintf(where, sizeof where, "%s", ctx);
    return mr_errf(e, MR_EUSER, "%s: %s", where, msg);
}

/* A number for messages: integers without a fraction, others in %g. */
static const char *num_str(char *buf, size_t n, double d)
{
    snprintf(buf, n, "%.15g", d);
    return buf;
}

/* Find key in obj. *item NULL means absent; an error when obj is not an
 * object or when absent and required (what = the expected kind). */
static int lookup(const cJSON *obj, const char *key, int required, const char *what,
                  const cJSON **item, const char *ctx, mr_err *e)
{
    *item = NULL;
    if (obj && !cJSON_IsObject(obj))
        return field_err(e, ctx, NULL, "expected an object, got %s", mr_json_kind(obj));
    if (obj) *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*item && required) return field_err(e, ctx, key, "missing (expected %s)", what);
    return MR_OK;
}

/* v as an int-valued number: 1 ok, 0 not a number, -1 not integral or out of
 * [lo, hi] (double bounds). */
static int as_integer(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi) return -1;
    *out = d;
    return 1;
}

static int get_integer(const cJSON *obj, const char *key, int required, double lo, double hi,
                       int ranged, double *out, int *present, const char *ctx, mr_err *e)
{
    const cJSON *v;
    *present = 0;
    int rc = lookup(obj, key, required, "an integer", &v, ctx, e);
    if (rc || !v) return rc;
    int k = as_integer(v, lo, hi, out);
    char a[32], b[32], c[32];
    if (k == 0) return field_err(e, ctx, key, "expected an integer, got %s", mr_json_kind(v));
    if (k < 0) {
        double d = v->valuedouble;
        if (d != floor(d) || !ranged)
            return field_err(e, ctx, key, "expected an integer%s, got %s",
                             d == floor(d) ? " (out of range)" : "", num_str(a, sizeof a, d));
        return field_err(e, ctx, key, "expected an integer in [%s, %s], got %s", num_str(b, sizeof b, lo),
                         num_str(c, sizeof c, hi), num_str(a, sizeof a, d));
    }
    *present = 1;
    return MR_OK;
}

int mr_json_get_int(const cJSON *obj, const char *key, int required, int def, int *out,
                    const char *ctx, mr_err *e)
{
    return mr_json_get_int_range(obj, key, required, def, -2147483647 - 1, 2147483647, out, ctx, e);
}

int mr_json_get_int_range(const cJSON *obj, const char *key, int required, int def, int lo, int hi,
                          int *out, const char *ctx, mr_err *e)
{
    double d;
    int present;
    int ranged = lo != -2147483647 - 1 || hi != 2147483647;
    int rc = get_integer(obj, key, required, lo, hi, ranged, &d, &present, ctx, e);
    if (rc) return rc;
    *out = present ? (int)d : def;
    return MR_OK;
}

int mr_json_get_int64(const cJSON *obj, const char *key, int required, int64_t def, int64_t *out,
                      const char *ctx, mr_err *e)
{
    double d;
    int present;
    int rc = get_integer(obj, key, required, -MAX_EXACT, MAX_EXACT, 0, &d, &present, ctx, e);
    if (rc) return rc;
    *out = present ? (int64_t)d : def;
    return MR_OK;
}

int mr_json_get_double_range(const cJSON *obj, const char *key, int required, double def, double lo,
                             double hi, double *out, const char *ctx, mr_err *e)
{
    const cJSON *v;
    int rc = lookup(obj, key, required, "a number", &v, ctx, e);
    if (rc) return rc;
    if (!v) { *out = def; return MR_OK; }
    if (!cJSON_IsNumber(v)) return field_err(e, ctx, key, "expected a number, got %s", mr_json_kind(v));
    double d = v->valuedouble;
    char a[32], b[32], c[32];
    if (!isfinite(d)) return field_err(e, ctx, key, "expected a finite number, got %s", num_str(a, sizeof a, d));
    if (d < lo || d > hi)
        return field_err(e, ctx, key, "expected a number in [%s, %s], got %s", num_str(b, sizeof b, lo),
                         num_str(c, sizeof c, hi), num_str(a, sizeof a, d));
    *out = d;
    return MR_OK;
}

int mr_json_get_double(const cJSON *obj, const char *key, int required, double def, double *out,
                       const char *ctx, mr_err *e)
{
    return mr_json_get_double_range(obj, key, required, def, -INFINITY, INFINITY, out, ctx, e);
}

int mr_json_get_bool(const cJSON *obj, const char *key, int required, int def, int *out,
                     const char *ctx, mr_err *e)
{
    const cJSON *v;
    int rc = lookup(obj, key, required, "true or false", &v, ctx, e);
    if (rc) return rc;
    if (!v) { *out = def; return MR_OK; }
    if (!cJSON_IsBool(v)) return field_err(e, ctx, key, "expected true or false, got %s", mr_json_kind(v));
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return MR_OK;
}

int mr_json_get_string(const cJSON *obj, const char *key, int required, const char *def,
                       const char **out, const char *ctx, mr_err *e)
{
    const cJSON *v;
    int rc = lookup(obj, key, required, "a string", &v, ctx, e);
    if (rc) return rc;
    if (!v) { *out = def; return MR_OK; }
    if (!cJSON_IsString(v)) return field_err(e, ctx, key, "expected a string, got %s", mr_json_kind(v));
    *out = v->valuestring;
    return MR_OK;
}

int mr_json_get_enum(const cJSON *obj, const char *key, int required, int def,
                     const char *const *names, int n, int *out, const char *ctx, mr_err *e)
{
    const char *s = NULL;
    int rc = mr_json_get_string(obj, key, required, NULL, &s, ctx, e);
    if (rc) return rc;
    if (!s) { *out = def; return MR_OK; }
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) { *out = i; return MR_OK; }
    char list[512];
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    return field_err(e, ctx, key, "expected one of %s, got '%.100s'", list, s);
}

/* Shared by the two array readers: ints != 0 demands integers. */
static int get_num_array(const cJSON *obj, const char *key, int required, int min_n, int max, int ints,
                         int *iout, double *dout, int *n, const char *ctx, mr_err *e)
{
    const cJSON *v;
    const char *what = ints ? "integers" : "numbers";
    *n = 0;
    int rc = lookup(obj, key, required, ints ? "an array of integers" : "an array of numbers", &v, ctx, e);
    if (rc || !v) return rc;
    if (!cJSON_IsArray(v)) return field_err(e, ctx, key, "expected an array of %s, got %s", what, mr_json_kind(v));
    int k = cJSON_GetArraySize(v);
    if (k > max) return field_err(e, ctx, key, "expected at most %d %s, got %d", max, what, k);
    if (k < min_n) return field_err(e, ctx, key, "expected at least %d %s, got %d", min_n, what, k);
    int i = 0;
    char sub[256], a[32];
    for (const cJSON *x = v->child; x; x = x->next, i++) {
        snprintf(sub, sizeof sub, "%s[%d]", key, i);
        if (!cJSON_IsNumber(x))
            return field_err(e, ctx, sub, "expected %s, got %s", ints ? "an integer" : "a number", mr_json_kind(x));
        double d = x->valuedouble;
        if (ints) {
            double t;
            if (as_integer(x, -2147483648.0, 2147483647.0, &t) != 1)
                return field_err(e, ctx, sub, "expected an integer, got %s", num_str(a, sizeof a, d));
            iout[i] = (int)t;
        } else {
            if (!isfinite(d)) return field_err(e, ctx, sub, "expected a finite number, got %s", num_str(a, sizeof a, d));
            dout[i] = d;
        }
    }
    *n = k;
    return MR_OK;
}

int mr_json_get_int_array(const cJSON *obj, const char *key, int required, int min_n, int max,
                          int *out, int *n, const char *ctx, mr_err *e)
{
    return get_num_array(obj, key, required, min_n, max, 1, out, NULL, n, ctx, e);
}

int mr_json_get_double_array(const cJSON *obj, const char *key, int required, int min_n, int max,
                             double *out, int *n, const char *ctx, mr_err *e)
{
    return get_num_array(obj, key, required, min_n, max, 0, NULL, out, n, ctx, e);
}

int mr_json_get_object(const cJSON *obj, const char *key, int required, const cJSON **out,
                       const char *ctx, mr_err *e)
{
    int rc = lookup(obj, key, required, "an object", out, ctx, e);
    if (rc || !*out) return rc;
    if (!cJSON_IsObject(*out)) {
        const char *k = mr_json_kind(*out);
        *out = NULL;
        return field_err(e, ctx, key, "expected an object, got %s", k);
    }
    return MR_OK;
}

int mr_json_get_array(const cJSON *obj, const char *key, int required, const cJSON **out,
                      const char *ctx, mr_err *e)
{
    int rc = lookup(obj, key, required, "an array", out, ctx, e);
    if (rc || !*out) return rc;
    if (!cJSON_IsArray(*out)) {
        const char *k = mr_json_kind(*out);
        *out = NULL;
        return field_err(e, ctx, key, "expected an array, got %s", k);
    }
    return MR_OK;
}

/* Levenshtein distance, capped: strings longer than 63 are not compared. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1000;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

int mr_json_check_keys(const cJSON *obj, const char *const *allowed, int n, const char *ctx, mr_err *e)
{
    if (!obj) return MR_OK;
    if (!cJSON_IsObject(obj)) return field_err(e, ctx, NULL, "expected an object, got %s", mr_json_kind(obj));
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0, best = -1, bestd = 1000;
        for (int i = 0; i < n && !ok; i++) {
            if (!strcmp(c->string, allowed[i])) { ok = 1; break; }
            int d = edit_distance(c->string, allowed[i]);
            if (d < bestd) { bestd = d; best = i; }
        }
        if (!ok) {
            size_t len = strlen(c->string);
            if (best >= 0 && bestd <= 2 && (size_t)bestd < len)
                return field_err(e, ctx, c->string, "unknown field (did you mean %s?)", allowed[best]);
            return field_err(e, ctx, c->string, "unknown field");
        }
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (!strcmp(d->string, c->string)) return field_err(e, ctx, c->string, "appears twice");
    }
    return MR_OK;
}

/* line and column (1-based) of text[pos] */
static void line_col(const char *text, size_t pos, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') { l++; c = 1; } else c++;
    }
    *line = l;
    *col = c;
}

int mr_json_parse(const char *text, size_t len, const char *name, cJSON **out, mr_err *e)
{
    *out = NULL;
    size_t start = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) start = 3;  /* UTF-8 byte order mark */
    size_t i = start;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i == len) return mr_errf(e, MR_EUSER, "%s: empty, expected JSON", name);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text + start, len - start, &end, 0);
    size_t pos = end && end >= text + start && end <= text + len ? (size_t)(end - text) : start;
    int line, col;
    if (!j) {
        line_col(text, pos, &line, &col);
        char near[32];
        size_t k = 0;
        for (size_t p = pos; p < len && k < 20 && text[p] != '\n'; p++)
            near[k++] = (unsigned char)text[p] >= 32 && (unsigned char)text[p] < 127 ? text[p] : '?';
        near[k] = 0;
        if (pos >= len) return mr_errf(e, MR_EUSER, "%s: invalid JSON at line %d, column %d: unexpected end of input",
                                       name, line, col);
        return mr_errf(e, MR_EUSER, "%s: invalid JSON at line %d, column %d (near '%s')", name, line, col, near);
    }
    for (size_t p = pos; p < len; p++)
        if (text[p] != ' ' && text[p] != '\t' && text[p] != '\n' && text[p] != '\r') {
            cJSON_Delete(j);
            line_col(text, p, &line, &col);
            return mr_errf(e, MR_EUSER, "%s: invalid JSON at line %d, column %d: text after the end of the value",
                           name, line, col);
        }
    int rc = mr_json_check_finite(j, name, e);
    if (rc) { cJSON_Delete(j); return rc; }
    *out = j;
    return MR_OK;
}

int mr_json_load_file(const char *path, cJSON **out, mr_err *e)
{
    char *buf;
    size_t len;
    *out = NULL;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    rc = mr_json_parse(buf, len, path, out, e);
    free(buf);
    return rc;
}

int mr_json_write_file(const char *path, const cJSON *j, mr_err *e)
{
    char *s = cJSON_Print(j);
    if (!s) return mr_errf(e, MR_ENOMEM, "%s: out of memory printing JSON", path);
    size_t n = strlen(s);
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (!rc) {
        if (fwrite(s, 1, n, af.f) != n || fputc('\n', af.f) == EOF) {
            mr_atomic_abort(&af);
            rc = mr_errf(e, MR_EIO, "%s: write failed", path);
        } else {
            rc = mr_atomic_commit(&af, e);
        }
    }
    free(s);
    return rc;
}

void mr_json_float_text(double v, char *buf, size_t n)
{
    float f = (float)v;
    if (isfinite(v) && (double)f == v && v != floor(v)) {
        for (int p = 6; p <= 9; p++) {
            snprintf(buf, n, "%.*g", p, v);
            if (strtof(buf, NULL) == f) return;
        }
    }
    snprintf(buf, n, "%.17g", v);
    if (strtod(buf, NULL) == v)   /* the shortest of 15..17 digits that reads back */
        for (int p = 15; p < 17; p++) {
            char t[64];
            snprintf(t, sizeof t, "%.*g", p, v);
            if (strtod(t, NULL) == v) { snprintf(buf, n, "%s", t); break; }
        }
}

/* a copy of j whose float-exact numbers are raw text in their short form */
static cJSON *short_numbers(const cJSON *j)
{
    if (cJSON_IsNumber(j)) {
        if (j->valuedouble == floor(j->valuedouble) || !isfinite(j->valuedouble)) return cJSON_Duplicate(j, 1);
        char t[64];
        mr_json_float_text(j->valuedouble, t, sizeof t);
        return cJSON_CreateRaw(t);
    }
    if (!cJSON_IsArray(j) && !cJSON_IsObject(j)) return cJSON_Duplicate(j, 1);
    cJSON *o = cJSON_IsArray(j) ? cJSON_CreateArray() : cJSON_CreateObject();
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        cJSON *k = short_numbers(c);
        if (!o || !k) { cJSON_Delete(k); cJSON_Delete(o); return NULL; }
        if (cJSON_IsArray(j)) cJSON_AddItemToArray(o, k);
        else cJSON_AddItemToObject(o, c->string, k);
    }
    return o;
}

static char *print_short(const cJSON *j)
{
    cJSON *s = short_numbers(j);
    char *t = s ? cJSON_PrintUnformatted(s) : NULL;
    cJSON_Delete(s);
    return t;
}

/* does the leaf key match one of keys ("KEY.PATH=VALUE" or "KEY.PATH"):
 * the same key, or one under the other */
static int key_matches(const char *key, const char *const *keys, int nkeys)
{
    size_t kl = strlen(key);
    for (int i = 0; i < nkeys; i++) {
        size_t l = strcspn(keys[i], "=");
        size_t m = l < kl ? l : kl;
        if (strncmp(keys[i], key, m)) continue;
        if (l == kl || (l < kl && key[l] == '.') || (kl < l && keys[i][kl] == '.')) return 1;
    }
    return 0;
}

static void diff_at(const cJSON *a, const cJSON *b, const char *prefix, int arrows, const char *const *keys,
                    int nkeys, int want, char *out, size_t n)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        if (!strcmp(x->string, "name") || !strcmp(x->string, "comment") || !strcmp(x->string, "seed")) continue;
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        char key[600];
        snprintf(key, sizeof key, "%.200s%s%.200s", prefix, prefix[0] ? "." : "", x->string);
        if (cJSON_IsObject(x) && cJSON_IsObject(y)) { diff_at(x, y, key, arrows, keys, nkeys, want, out, n); continue; }
        if (y && cJSON_Compare(x, y, 1)) continue;
        if (want >= 0 && key_matches(key, keys, nkeys) != want) continue;
        char *v = print_short(x), *w = arrows && y ? print_short(y) : NULL;
        size_t l = strlen(out);
        if (v && l + 8 < n) {
            const char *sep = l ? ", " : "";
            if (!arrows) snprintf(out + l, n - l, "%s%.120s=%.100s", sep, key, v);
            else if (w) snprintf(out + l, n - l, "%s%.120s: %.60s -> %.60s", sep, key, v, w);
            else snprintf(out + l, n - l, "%s%.120s (removed)", sep, key);
        }
        free(v);
        free(w);
    }
}

void mr_json_diff(const cJSON *a, const cJSON *b, int arrows, char *out, size_t n)
{
    if (n) diff_at(a, b, "", arrows, NULL, 0, -1, out, n);
}

void mr_json_diff_keys(const cJSON *a, const cJSON *b, int arrows, const char *const *keys, int nkeys, int in_keys,
                       char *out, size_t n)
{
    if (n) diff_at(a, b, "", arrows, keys, nkeys, in_keys ? 1 : 0, out, n);
}

/* depth-first: the first number that is not finite, its path in buf */
static int find_nonfinite(const cJSON *j, char *path, size_t n, size_t at)
{
    if (cJSON_IsNumber(j)) return !isfinite(j->valuedouble);
    if (!cJSON_IsArray(j) && !cJSON_IsObject(j)) return 0;
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        if (at < n) {
            if (cJSON_IsObject(j)) snprintf(path + at, n - at, "%s%s", at ? "." : "", c->string ? c->string : "?");
            else snprintf(path + at, n - at, "[%d]", i);
        }
        size_t sub = strlen(path);
        if (find_nonfinite(c, path, n, sub)) return 1;
        path[at < n ? at : n - 1] = 0;
        i++;
    }
    return 0;
}

int mr_json_check_finite(const cJSON *j, const char *name, mr_err *e)
{
    char path[512] = "";
    if (!find_nonfinite(j, path, sizeof path, 0)) return MR_OK;
    return mr_errf(e, MR_EUSER, "%s: field %s: expected a finite number, got one beyond the range of a double",
                   name, path[0] ? path : "(top level)");
}
