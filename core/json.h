/*
 * json.h — typed accessors over cJSON for configs and the other JSON readers,
 * producing the project's error messages, plus loading (with line and column
 * on parse errors) and atomic writing of JSON files.
 *
 * Context strings: every accessor takes ctx = "FILE: PATH" naming the object
 * being read (e.g. "config.json: model.rpn", or just "config.json" at the
 * top level); errors then read
 *   "config.json: field model.rpn.nms_thresh: expected a number, got string"
 *   "config.json: field model.rpn.nms_thresh: missing (expected a number)"
 *   "config.json: field solver.lr: expected a number in [0, 10], got 12"
 *   "config.json: field model.rpn.sizes[2]: expected an integer, got 2.5"
 * All are MR_EUSER. mr_json_ctx builds the ctx of a child object.
 *
 * Optional fields: required = 0 and the key absent (or obj NULL, an absent
 * section) gives *out = def and MR_OK; a present key of the wrong type is
 * always an error (null counts as present). Accessors never modify the JSON.
 *
 * defines: mr_json_load_file, mr_json_parse, mr_json_write_file, mr_json_ctx,
 *          mr_json_kind, mr_json_get_int, mr_json_get_int_range,
 *          mr_json_get_int64, mr_json_get_double, mr_json_get_double_range,
 *          mr_json_get_bool, mr_json_get_string, mr_json_get_enum,
 *          mr_json_get_int_array, mr_json_get_double_array,
 *          mr_json_get_object, mr_json_get_array, mr_json_check_keys,
 *          mr_json_diff, mr_json_diff_keys, mr_json_float_text,
 *          mr_json_check_finite
 */
#ifndef MR_JSON_H
#define MR_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/err.h"

/* Read and parse path. Errors: MR_EIO (cannot read, naming path), MR_EUSER
 * ("PATH: invalid JSON at line L, column C (near '...')", an empty file, or
 * text after the value). */
int mr_json_load_file(const char *path, cJSON **out, mr_err *e);
/* Parse text[0..len) as one JSON value; name is used in messages. */
int mr_json_parse(const char *text, size_t len, const char *name, cJSON **out, mr_err *e);
/* Pretty-print j with a final newline and write it atomically to path. */
int mr_json_write_file(const char *path, const cJSON *j, mr_err *e);

/* buf = ctx extended by key: ("config.json", "model") -> "config.json: model",
 * ("config.json: model", "rpn") -> "config.json: model.rpn". Returns buf. */
const char *mr_json_ctx(char *buf, size_t n, const char *ctx, const char *key);
/* "string", "number", "array", "object", "boolean", "null" or "nothing". */
const char *mr_json_kind(const cJSON *v);

int mr_json_get_int(const cJSON *obj, const char *key, int required, int def, int *out,
                    const char *ctx, mr_err *e);
/* ... and in [lo, hi] inclusive */
int mr_json_get_int_range(const cJSON *obj, const char *key, int required, int def, int lo, int hi,
                          int *out, const char *ctx, mr_err *e);
/* integers up to 2^53 in magnitude (exact in a JSON double) */
int mr_json_get_int64(const cJSON *obj, const char *key, int required, int64_t def, int64_t *out,
                      const char *ctx, mr_err *e);
/* any finite number */
int mr_json_get_double(const cJSON *obj, const char *key, int required, double def, double *out,
                       const char *ctx, mr_err *e);
int mr_json_get_double_range(const cJSON *obj, const char *key, int required, double def, double lo,
                             double hi, double *out, const char *ctx, mr_err *e);
/* true/false only (not 0/1) */
int mr_json_get_bool(const cJSON *obj, const char *key, int required, int def, int *out,
                     const char *ctx, mr_err *e);
/* *out points into the JSON (or is def); valid while the JSON lives */
int mr_json_get_string(const cJSON *obj, const char *key, int required, const char *def,
                       const char **out, const char *ctx, mr_err *e);
/* a string that must be one of names[0..n); *out is its index (def when absent):
 * "expected one of roipool, roialign, got 'roi'" */
int mr_json_get_enum(const cJSON *obj, const char *key, int required, int def,
                     const char *const *names, int n, int *out, const char *ctx, mr_err *e);
/* an array of at most max integers (or finite numbers) into out; *n gets the
 * count (0 when absent and not required). min_n: the fewest accepted. */
int mr_json_get_int_array(const cJSON *obj, const char *key, int required, int min_n, int max,
                          int *out, int *n, const char *ctx, mr_err *e);
int mr_json_get_double_array(const cJSON *obj, const char *key, int required, int min_n, int max,
                             double *out, int *n, const char *ctx, mr_err *e);
/* an object / array member; *out NULL when absent and not required */
int mr_json_get_object(const cJSON *obj, const char *key, int required, const cJSON **out,
                       const char *ctx, mr_err *e);
int mr_json_get_array(const cJSON *obj, const char *key, int required, const cJSON **out,
                      const char *ctx, mr_err *e);
/* Every key of obj must be in allowed[0..n): otherwise "field model.rpn.nms_thres:
 * unknown field (did you mean nms_thresh?)". obj NULL is fine. */
int mr_json_check_keys(const cJSON *obj, const char *const *allowed, int n, const char *ctx, mr_err *e);

/* The leaves of a that b changes or lacks (objects compared key by key;
 * "name", "comment" and "seed" skipped), appended to out (n bytes, kept
 * NUL-terminated) separated by ", ": as "a.b=1, c=\"x\"" (a's values), or
 * with arrows as "a.b: 1 -> 2, c (removed)". Leaves only in b are not
 * listed. A number that is a float's exact value (a config's float field,
 * widened) is printed in the shortest form that reads back as that float
 * (0.05, not 0.05000000074505806). Used for the tables' "differs" column
 * and for what a run or a model was made with against the config now. */
void mr_json_diff(const cJSON *a, const cJSON *b, int arrows, char *out, size_t n);
/* mr_json_diff of the leaves whose dotted key is (in_keys 1) or is not
 * (in_keys 0) one of keys ("KEY.PATH" or "KEY.PATH=VALUE", as --set gives
 * them), or under one, or above one: which changes --set made and which
 * the config file made. */
void mr_json_diff_keys(const cJSON *a, const cJSON *b, int arrows, const char *const *keys, int nkeys, int in_keys,
                       char *out, size_t n);
/* v in the shortest form that reads back as the same value: as a float
 * when v is a float's exact value and not an integer (the first of %.6g ..
 * %.9g that strtof reads back), else the shortest of %.15g .. %.17g that
 * strtod reads back. */
void mr_json_float_text(double v, char *buf, size_t n);

/* Every number in j finite: cJSON reads an overflowing literal (1e999) as
 * inf; that is "NAME: field a.b[2]: expected a finite number, ..." (MR_EUSER).
 * mr_json_parse (and so mr_json_load_file) checks it for every file. */
int mr_json_check_finite(const cJSON *j, const char *name, mr_err *e);

#endif
