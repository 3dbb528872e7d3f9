/*
 * safetensors.h — read and write checkpoints in the safetensors format:
 * 8-byte little-endian header length N, N bytes of JSON header
 * ({"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...,
 *   optional "__metadata__": {string: string}}), then the raw little-endian
 * data. Writing goes to a temporary next to PATH and is renamed over PATH
 * (core/fileio.h), so an interrupted write never leaves a half-written
 * checkpoint. Reading validates everything: header length against the file
 * size (and a 100 MB cap), well-formed JSON, every entry's dtype / shape /
 * data_offsets and their types, shapes non-negative and not overflowing,
 * byte lengths equal to numel * dtype size, offsets within the data section,
 * non-overlapping and covering it exactly, names unique. A truncated or
 * malformed file is an MR_EUSER error naming the file and the tensor and
 * field, never a crash. Tensor names follow torchvision's state_dict names.
 *
 * The data section is held in one 64-byte aligned buffer; a tensor's data
 * pointer is aligned when the tensors before it have sizes that are multiples
 * of its element size (always the case for all-F32 files, such as ours).
 * Assumes a little-endian host (checked at compile time).
 *
 * defines: mr_st_dtype, mr_st_tensor, mr_st_file, mr_st_read, mr_st_find,
 *          mr_st_meta, mr_st_get_f32, mr_st_close, mr_st_dtype_name,
 *          mr_st_dtype_size, mr_st_entry, mr_st_write, MR_ST_MAX_DIMS,
 *          MR_ST_MAX_HEADER
 */
#ifndef MR_SAFETENSORS_H
#define MR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define MR_ST_MAX_DIMS 8
#define MR_ST_MAX_HEADER ((uint64_t)100 << 20)  /* larger header lengths are refused */

typedef enum {
    MR_ST_F32, MR_ST_F64, MR_ST_I64, MR_ST_I32, MR_ST_U8, MR_ST_F16, MR_ST_BF16,
    MR_ST_I16, MR_ST_I8, MR_ST_BOOL, MR_ST_NDTYPES
} mr_st_dtype;

typedef struct mr_st_tensor {
    char *name;
    mr_st_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[MR_ST_MAX_DIMS];
    const void *data;                /* points into the file's data buffer */
    size_t nbytes;
} mr_st_tensor;

typedef struct mr_st_file {
    char *path;
    void *buf;              /* the data section (64-byte aligned) */
    size_t size;            /* size of the whole file */
    size_t data_size;       /* size of the data section */
    int n;
    mr_st_tensor *tensors;  /* sorted by name */
    int nmeta;
    char **meta_keys, **meta_values;  /* in file order */
} mr_st_file;

/* Read and validate path into f. On failure f is left empty (safe to close)
 * and e says what was wrong: MR_EIO when the file cannot be read, MR_EUSER
 * for anything malformed. */
int mr_st_read(mr_st_file *f, const char *path, mr_err *e);
/* The tensor called name, or NULL (binary search). */
const mr_st_tensor *mr_st_find(const mr_st_file *f, const char *name);
/* The metadata value for key, or NULL if absent. */
const char *mr_st_meta(const mr_st_file *f, const char *key);
/* Copy a tensor into dst as float32 (F32 copied; F64, F16 and BF16 converted;
 * integer dtypes refused) checking that its shape equals want[0..ndim); the
 * error names the file, the tensor and both shapes. */
int mr_st_get_f32(const mr_st_file *f, const char *name, int ndim, const int64_t *want,
                  float *dst, mr_err *e);
/* Free everything read; f is zeroed (closing twice is harmless). */
void mr_st_close(mr_st_file *f);

const char *mr_st_dtype_name(mr_st_dtype d);   /* "F32", ... */
size_t mr_st_dtype_size(mr_st_dtype d);        /* bytes per element */

/* One tensor to write: F32 data of the given shape (ndim 0 is a scalar). */
typedef struct mr_st_entry {
    const char *name;
    int ndim;
    int64_t shape[MR_ST_MAX_DIMS];
    const float *data;   /* may be NULL only when the shape has no elements */
} mr_st_entry;

/* Write entries (any order; written sorted by name, data 8-byte aligned) and
 * metadata pairs (nmeta may be 0) atomically to path. Duplicate or empty
 * names, the name "__metadata__", bad shapes and duplicate metadata keys are
 * MR_EINTERNAL errors (a caller bug). */
int mr_st_write(const char *path, const mr_st_entry *entries, int n,
                const char *const *meta_keys, const char *const *meta_values, int nmeta,
                mr_err *e);

#endif
