/*
 * safetensors.h — read and write checkpoints in the safetensors format:
 * 8-byte little-endian header length N, N bytes of JSON header
 * ({"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...,
 *   optional "__metadata__": {string: string}}), then the raw little-endian
 * data. Writing goes to PATH.tmp and is renamed over PATH, so an interrupted
 * write never leaves a half-written checkpoint. Reading validates every
 * offset, shape and dtype; a truncated or malformed file is an MR_EUSER error
 * naming the file and the tensor, never a crash.
 *
 * defines: mr_st_tensor, mr_st_file, mr_st_read, mr_st_find, mr_st_close,
 *          mr_st_writer, mr_st_write
 */
#ifndef MR_SAFETENSORS_H
#define MR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define MR_ST_MAX_DIMS 8

typedef enum { MR_ST_F32, MR_ST_F64, MR_ST_I64, MR_ST_I32, MR_ST_U8, MR_ST_F16, MR_ST_BF16 } mr_st_dtype;

typedef struct mr_st_tensor {
    char *name;
    mr_st_dtype dtype;
    int ndim;
    int64_t shape[MR_ST_MAX_DIMS];
    const void *data;   /* points into the file's buffer */
    size_t nbytes;
} mr_st_tensor;

typedef struct mr_st_file {
    char *path;
    void *buf;           /* whole file */
    size_t size;
    int n;
    mr_st_tensor *tensors;  /* sorted by name */
    int nmeta;
    char **meta_keys, **meta_values;
} mr_st_file;

int mr_st_read(mr_st_file *f, const char *path, mr_err *e);
const mr_st_tensor *mr_st_find(const mr_st_file *f, const char *name);
const char *mr_st_meta(const mr_st_file *f, const char *key);  /* NULL if absent */
/* Copy a tensor into dst (F32 only; F16/BF16/F64 converted) checking that its
 * shape equals want[0..ndim); error names the file, tensor and both shapes. */
int mr_st_get_f32(const mr_st_file *f, const char *name, int ndim, const int64_t *want,
                  float *dst, mr_err *e);
void mr_st_close(mr_st_file *f);

/* One tensor to write: F32 data of the given shape. */
typedef struct mr_st_entry {
    const char *name;
    int ndim;
    int64_t shape[MR_ST_MAX_DIMS];
    const float *data;
} mr_st_entry;

/* Write entries (any order; written sorted by name) and metadata pairs
 * (may be 0) atomically to path. */
int mr_st_write(const char *path, const mr_st_entry *entries, int n,
                const char *const *meta_keys, const char *const *meta_values, int nmeta,
                mr_err *e);

#endif
