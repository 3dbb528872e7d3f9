/*
 * safetensors.c — checkpoint reading and writing in the safetensors format
 * (see safetensors.h for the format and what is validated).
 *
 * Reading: the 8-byte length and the JSON header are read first and checked
 * against the file size before anything large is allocated; the data section
 * is then read into one aligned buffer and every entry is checked against it.
 * All errors are "checkpoint PATH: ..." and name the tensor and field.
 * Writing: header JSON (cJSON, numbers formatted by us as exact integers),
 * padded with spaces so the data section starts 8-byte aligned, then the data
 * in name order, through an atomic temporary + rename.
 */
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define MAX_EXACT ((uint64_t)1 << 53)  /* largest integer a JSON double holds exactly */

static const struct { const char *name; size_t size; } DTYPES[MR_ST_NDTYPES] = {
    [MR_ST_F32] = {"F32", 4}, [MR_ST_F64] = {"F64", 8}, [MR_ST_I64] = {"I64", 8},
    [MR_ST_I32] = {"I32", 4}, [MR_ST_U8] = {"U8", 1},   [MR_ST_F16] = {"F16", 2},
    [MR_ST_BF16] = {"BF16", 2}, [MR_ST_I16] = {"I16", 2}, [MR_ST_I8] = {"I8", 1},
    [MR_ST_BOOL] = {"BOOL", 1},
};

const char *mr_st_dtype_name(mr_st_dtype d)
{
    return (unsigned)d < MR_ST_NDTYPES ? DTYPES[d].name : "?";
}

size_t mr_st_dtype_size(mr_st_dtype d)
{
    return (unsigned)d < MR_ST_NDTYPES ? DTYPES[d].size : 0;
}

static int dtype_from_name(const char *s, mr_st_dtype *out)
{
    for (int i = 0; i < MR_ST_NDTYPES; i++)
        if (!strcmp(s, DTYPES[i].name)) { *out = (mr_st_dtype)i; return 1; }
    return 0;
}

/* "[64,3,7,7]" into buf */
static const char *shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? "," : "", shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

/* What kind of JSON value v is, for "expected X, got Y" messages. */
static const char *json_kind(const cJSON *v)
{
    if (!v) return "nothing";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "an unknown value";
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > (double)MAX_EXACT || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

void mr_st_close(mr_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->nmeta; i++) { free(f->meta_keys[i]); free(f->meta_values[i]); }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const mr_st_tensor *)a)->name, ((const mr_st_tensor *)b)->name);
}

typedef struct { uint64_t begin, end; int idx; } span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Read "__metadata__": an object of string values. */
static int read_meta(mr_st_file *f, const cJSON *m, mr_err *e)
{
    if (!cJSON_IsObject(m))
        return mr_errf(e, MR_EUSER, "checkpoint %s: field __metadata__: expected an object, got %s",
                       f->path, json_kind(m));
    int k = cJSON_GetArraySize(m);
    f->meta_keys = calloc((size_t)k + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)k + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return mr_errf(e, MR_ENOMEM, "checkpoint %s: out of memory", f->path);
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return mr_errf(e, MR_EUSER, "checkpoint %s: field __metadata__.%s: expected a string, got %s",
                           f->path, c->string, json_kind(c));
        for (int i = 0; i < f->nmeta; i++)
            if (!strcmp(f->meta_keys[i], c->string))
                return mr_errf(e, MR_EUSER, "checkpoint %s: field __metadata__.%s appears twice",
                               f->path, c->string);
        f->meta_keys[f->nmeta] = strdup(c->string);
        f->meta_values[f->nmeta] = strdup(c->valuestring);
        f->nmeta++;
        if (!f->meta_keys[f->nmeta - 1] || !f->meta_values[f->nmeta - 1])
            return mr_errf(e, MR_ENOMEM, "checkpoint %s: out of memory", f->path);
    }
    return MR_OK;
}

/* Validate one tensor entry c (named c->string) into t; offsets into sp. */
static int read_entry(mr_st_file *f, const cJSON *c, mr_st_tensor *t, span *sp, mr_err *e)
{
    const char *P = f->path, *name = c->string;
    if (!name[0]) return mr_errf(e, MR_EUSER, "checkpoint %s: a tensor has an empty name", P);
    if (!cJSON_IsObject(c))
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: expected an object, got %s", P, name, json_kind(c));
    for (const cJSON *k = c->child; k; k = k->next)
        if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") && strcmp(k->string, "data_offsets"))
            return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: unexpected field '%s'", P, name, k->string);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(c, "dtype");
    if (!cJSON_IsString(dt))
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field dtype: expected a string, got %s",
                       P, name, json_kind(dt));
    if (!dtype_from_name(dt->valuestring, &t->dtype))
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field dtype: unknown dtype '%s' "
                       "(expected F32, F64, F16, BF16, I64, I32, I16, I8, U8 or BOOL)", P, name, dt->valuestring);

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "shape");
    if (!cJSON_IsArray(sh))
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field shape: expected an array, got %s",
                       P, name, json_kind(sh));
    int nd = cJSON_GetArraySize(sh);
    if (nd > MR_ST_MAX_DIMS)
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field shape: %d dimensions, at most %d supported",
                       P, name, nd, MR_ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (!json_uint(d, &v))
            return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field shape[%d]: expected a non-negative "
                           "integer, got %s%s", P, name, i, json_kind(d),
                           cJSON_IsNumber(d) ? " that is negative, fractional or too large" : "");
        t->shape[i] = (int64_t)v;
        if (__builtin_mul_overflow(numel, v, &numel) || numel > MAX_EXACT)
            return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field shape: element count overflows", P, name);
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, (uint64_t)DTYPES[t->dtype].size, &nbytes))
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field shape: byte size overflows", P, name);

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field data_offsets: expected an array of two "
                       "integers, got %s", P, name, cJSON_IsArray(off) ? "an array of another length" : json_kind(off));
    uint64_t b, en;
    if (!json_uint(off->child, &b) || !json_uint(off->child->next, &en))
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field data_offsets: expected non-negative integers",
                       P, name);
    if (en < b)
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field data_offsets: end %" PRIu64
                       " is before begin %" PRIu64, P, name, en, b);
    if (en > f->data_size)
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field data_offsets: [%" PRIu64 ", %" PRIu64
                       "] runs past the end of the data section (%zu bytes; truncated file?)",
                       P, name, b, en, f->data_size);
    if (en - b != nbytes) {
        char s[256];
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: data_offsets span %" PRIu64 " bytes but dtype %s "
                       "shape %s needs %" PRIu64, P, name, en - b, DTYPES[t->dtype].name,
                       shape_str(s, sizeof s, t->ndim, t->shape), nbytes);
    }
    t->nbytes = (size_t)nbytes;
    t->data = (const char *)f->buf + b;
    sp->begin = b;
    sp->end = en;
    return MR_OK;
}

/* Parse and validate the JSON header hdr[0..hl) into f (f->buf and
 * f->data_size already set). */
static int parse_header(mr_st_file *f, const char *hdr, size_t hl, mr_err *e)
{
    const char *P = f->path, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hl, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + hl ? (size_t)(end - hdr) : 0;
        char near[24];
        size_t k = 0;
        for (size_t j = at; j < hl && k < 16; j++) near[k++] = hdr[j] >= 32 && hdr[j] < 127 ? hdr[j] : '?';
        near[k] = 0;
        return mr_errf(e, MR_EUSER, "checkpoint %s: header is not valid JSON (error at byte %zu of the "
                       "header, near '%s')", P, at, near);
    }
    int rc = MR_OK;
    span *spans = NULL;
    for (const char *q = end; q < hdr + hl; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            rc = mr_errf(e, MR_EUSER, "checkpoint %s: header has trailing bytes after the JSON at byte %zu",
                         P, (size_t)(q - hdr));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = mr_errf(e, MR_EUSER, "checkpoint %s: header: expected a JSON object, got %s", P, json_kind(root));
        goto done;
    }
    int k = cJSON_GetArraySize(root);
    f->tensors = calloc((size_t)k + 1, sizeof *f->tensors);
    spans = calloc((size_t)k + 1, sizeof *spans);
    if (!f->tensors || !spans) { rc = mr_errf(e, MR_ENOMEM, "checkpoint %s: out of memory", P); goto done; }
    int seen_meta = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            if (seen_meta++) { rc = mr_errf(e, MR_EUSER, "checkpoint %s: __metadata__ appears twice", P); goto done; }
            if ((rc = read_meta(f, c, e))) goto done;
            continue;
        }
        mr_st_tensor *t = &f->tensors[f->n];
        if ((rc = read_entry(f, c, t, &spans[f->n], e))) goto done;
        if (!(t->name = strdup(c->string))) { rc = mr_errf(e, MR_ENOMEM, "checkpoint %s: out of memory", P); goto done; }
        spans[f->n].idx = f->n;
        f->n++;
    }
    /* the spans, in offset order, must tile the data section exactly */
    qsort(spans, (size_t)f->n, sizeof *spans, cmp_span);
    uint64_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        const char *nm = f->tensors[spans[i].idx].name;
        if (spans[i].begin < pos) {
            rc = mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field data_offsets: [%" PRIu64 ", %" PRIu64
                         "] overlaps tensor %s", P, nm, spans[i].begin, spans[i].end,
                         f->tensors[spans[i - 1].idx].name);
            goto done;
        }
        if (spans[i].begin > pos) {
            rc = mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: field data_offsets: begins at %" PRIu64
                         " leaving bytes [%" PRIu64 ", %" PRIu64 ") of the data section unused", P, nm,
                         spans[i].begin, pos, spans[i].begin);
            goto done;
        }
        pos = spans[i].end;
    }
    if (pos != f->data_size) {
        rc = mr_errf(e, MR_EUSER, "checkpoint %s: data section has %zu bytes but the tensors cover %" PRIu64
                     " (trailing garbage or a wrong offset)", P, f->data_size, pos);
        goto done;
    }
    qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, cmp_tensor_name);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, f->tensors[i - 1].name)) {
            rc = mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s appears twice", P, f->tensors[i].name);
            goto done;
        }
done:
    free(spans);
    cJSON_Delete(root);
    return rc;
}

int mr_st_read(mr_st_file *f, const char *path, mr_err *e)
{
    memset(f, 0, sizeof *f);
    char *hdr = NULL;
    int rc = MR_OK;
    FILE *fp = mr_open_regular(path, "checkpoint", e);
    if (!fp) return e ? e->code : MR_EIO;
    if (!(f->path = strdup(path))) { rc = mr_errf(e, MR_ENOMEM, "checkpoint %s: out of memory", path); goto fail; }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        rc = mr_errf(e, MR_EIO, "checkpoint %s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    f->size = (size_t)st.st_size;
    unsigned char lenb[8];
    if (f->size < 8 || fread(lenb, 1, 8, fp) != 8) {
        rc = mr_errf(e, MR_EUSER, "checkpoint %s: truncated: %zu bytes, fewer than the 8-byte header length",
                     path, f->size);
        goto fail;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | lenb[i];
    if (hl == 0) { rc = mr_errf(e, MR_EUSER, "checkpoint %s: header length is 0 (expected a JSON header)", path); goto fail; }
    if (hl > MR_ST_MAX_HEADER) {
        rc = mr_errf(e, MR_EUSER, "checkpoint %s: header length %" PRIu64 " exceeds the limit of %" PRIu64
                     " bytes (not a safetensors file, or corrupt)", path, hl, MR_ST_MAX_HEADER);
        goto fail;
    }
    if (hl > f->size - 8) {
        rc = mr_errf(e, MR_EUSER, "checkpoint %s: header length %" PRIu64 " exceeds the %zu bytes after the "
                     "length field (truncated or corrupt)", path, hl, f->size - 8);
        goto fail;
    }
    f->data_size = f->size - 8 - (size_t)hl;
    if (!(hdr = malloc((size_t)hl + 1)) ||
        posix_memalign(&f->buf, 64, f->data_size ? f->data_size : 1) != 0) {
        f->buf = NULL;
        rc = mr_errf(e, MR_ENOMEM, "checkpoint %s: out of memory reading %zu bytes", path, f->size);
        goto fail;
    }
    if (fread(hdr, 1, (size_t)hl, fp) != (size_t)hl ||
        (f->data_size && fread(f->buf, 1, f->data_size, fp) != f->data_size)) {
        rc = mr_errf(e, MR_EIO, "checkpoint %s: read failed", path);
        goto fail;
    }
    hdr[hl] = 0;
    if ((rc = parse_header(f, hdr, (size_t)hl, e))) goto fail;
    free(hdr);
    fclose(fp);
    return MR_OK;
fail:
    free(hdr);
    fclose(fp);
    mr_st_close(f);
    return rc;
}

const mr_st_tensor *mr_st_find(const mr_st_file *f, const char *name)
{
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->tensors[mid].name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

const char *mr_st_meta(const mr_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

/* IEEE binary16 bits to float, including subnormals, infinities and NaN. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (ex == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (ex == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    } else {
        bits = sign | ((ex + 112) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

int mr_st_get_f32(const mr_st_file *f, const char *name, int ndim, const int64_t *want,
                  float *dst, mr_err *e)
{
    const mr_st_tensor *t = mr_st_find(f, name);
    if (!t) return mr_errf(e, MR_EUSER, "checkpoint %s: no tensor named %s", f->path, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == want[i];
    if (!same) {
        char a[256], b[256];
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s has shape %s, model expects %s", f->path, name,
                       shape_str(a, sizeof a, t->ndim, t->shape), shape_str(b, sizeof b, ndim, want));
    }
    size_t n = t->nbytes / DTYPES[t->dtype].size;
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case MR_ST_F32:
        if (n) memcpy(dst, p, n * 4);
        break;
    case MR_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            /* a finite double beyond float's range would become inf */
            dst[i] = isfinite(d) && fabs(d) > FLT_MAX ? (float)INFINITY : (float)d;
        }
        break;
    case MR_ST_F16:
        for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = half_to_float(h); }
        break;
    case MR_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    default:
        return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s has dtype %s, expected a floating-point dtype "
                       "(F32, F64, F16 or BF16)", f->path, name, DTYPES[t->dtype].name);
    }
    return MR_OK;
}

/* ---- writing ---- */

static int cmp_entry_ptr(const void *a, const void *b)
{
    return strcmp((*(const mr_st_entry *const *)a)->name, (*(const mr_st_entry *const *)b)->name);
}

/* An exact integer as a raw JSON number (cJSON would print large values in
 * exponent form). */
static cJSON *json_u64(uint64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return cJSON_CreateRaw(s);
}

int mr_st_write(const char *path, const mr_st_entry *entries, int n,
                const char *const *meta_keys, const char *const *meta_values, int nmeta,
                mr_err *e)
{
    if (n < 0 || nmeta < 0 || (n && !entries) || (nmeta && (!meta_keys || !meta_values)))
        return mr_errf(e, MR_EINTERNAL, "%s: bad arguments to mr_st_write", path);
    const mr_st_entry **order = malloc(((size_t)n + 1) * sizeof *order);
    cJSON *root = cJSON_CreateObject();
    char *json = NULL;
    int rc = MR_OK;
    if (!order || !root) { rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path); goto done; }
    for (int i = 0; i < n; i++) order[i] = &entries[i];
    for (int i = 0; i < n; i++) {
        const mr_st_entry *en = order[i];
        if (!en->name || !en->name[0] || !strcmp(en->name, "__metadata__")) {
            rc = mr_errf(e, MR_EINTERNAL, "%s: entry %d has an empty or reserved name", path, i);
            goto done;
        }
        if (en->ndim < 0 || en->ndim > MR_ST_MAX_DIMS) {
            rc = mr_errf(e, MR_EINTERNAL, "%s: tensor %s: %d dimensions", path, en->name, en->ndim);
            goto done;
        }
        uint64_t numel = 1;
        for (int d = 0; d < en->ndim; d++)
            if (en->shape[d] < 0 || __builtin_mul_overflow(numel, (uint64_t)en->shape[d], &numel) ||
                numel > MAX_EXACT / 4) {
                rc = mr_errf(e, MR_EINTERNAL, "%s: tensor %s: bad shape", path, en->name);
                goto done;
            }
        if (numel && !en->data) {
            rc = mr_errf(e, MR_EINTERNAL, "%s: tensor %s: no data", path, en->name);
            goto done;
        }
    }
    qsort(order, (size_t)n, sizeof *order, cmp_entry_ptr);
    for (int i = 1; i < n; i++)
        if (!strcmp(order[i]->name, order[i - 1]->name)) {
            rc = mr_errf(e, MR_EINTERNAL, "%s: tensor %s given twice", path, order[i]->name);
            goto done;
        }
    if (nmeta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) { rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path); goto done; }
        for (int i = 0; i < nmeta; i++) {
            if (!meta_keys[i] || !meta_values[i] || cJSON_GetObjectItemCaseSensitive(m, meta_keys[i])) {
                rc = mr_errf(e, MR_EINTERNAL, "%s: metadata pair %d is missing or repeated", path, i);
                goto done;
            }
            if (!cJSON_AddStringToObject(m, meta_keys[i], meta_values[i])) {
                rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
                goto done;
            }
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const mr_st_entry *en = order[i];
        size_t sz = 1;
        for (int d = 0; d < en->ndim; d++) sz *= (size_t)en->shape[d];
        sz *= 4;
        cJSON *t = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *of = cJSON_CreateArray();
        if (t) cJSON_AddItemToObject(root, en->name, t);
        int ok = t && sh && of && cJSON_AddStringToObject(t, "dtype", "F32");
        if (sh && ok) cJSON_AddItemToObject(t, "shape", sh); else cJSON_Delete(sh);
        if (of && ok) cJSON_AddItemToObject(t, "data_offsets", of); else cJSON_Delete(of);
        for (int d = 0; ok && d < en->ndim; d++) {
            cJSON *v = json_u64((uint64_t)en->shape[d]);
            ok = v != NULL;
            if (ok) cJSON_AddItemToArray(sh, v);
        }
        cJSON *b = ok ? json_u64(off) : NULL, *en2 = ok ? json_u64(off + sz) : NULL;
        if (b) cJSON_AddItemToArray(of, b);
        if (en2) cJSON_AddItemToArray(of, en2);
        if (!ok || !b || !en2) { rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path); goto done; }
        off += sz;
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) { rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path); goto done; }
    size_t jl = strlen(json), pad = (8 - (8 + jl) % 8) % 8;
    uint64_t hl = jl + pad;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(hl >> (8 * i));
    mr_atomic_file af;
    if ((rc = mr_atomic_open(&af, path, e))) goto done;
    int bad = fwrite(lenb, 1, 8, af.f) != 8 || fwrite(json, 1, jl, af.f) != jl;
    for (size_t i = 0; !bad && i < pad; i++) bad = fputc(' ', af.f) == EOF;
    for (int i = 0; !bad && i < n; i++) {
        size_t sz = 1;
        for (int d = 0; d < order[i]->ndim; d++) sz *= (size_t)order[i]->shape[d];
        if (sz) bad = fwrite(order[i]->data, 4, sz, af.f) != sz;
    }
    if (bad) {
        mr_atomic_abort(&af);
        rc = mr_errf(e, MR_EIO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    rc = mr_atomic_commit(&af, e);
done:
    free(json);
    cJSON_Delete(root);
    free(order);
    return rc;
}
