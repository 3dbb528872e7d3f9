/*
 * params.c — the one-allocation parameter table (see params.h).
 */
#include "core/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(mr_param_table *t)
{
    if (t->n < t->cap) return 0;
    int cap = t->cap ? t->cap * 2 : 256;
    mr_param_entry *ne = realloc(t->e, (size_t)cap * sizeof *ne);
    if (!ne) {
        t->failed = 1;
        snprintf(t->fail_msg, sizeof t->fail_msg, "out of memory declaring parameters");
        return -1;
    }
    t->e = ne;
    t->cap = cap;
    return 0;
}

int mr_params_add(mr_param_table *t, const char *name, int ndim, const int *dims,
                  mr_param_init init, float init_a, int trainable, float **slot,
                  float **gslot)
{
    if (grow(t)) return -1;
    if (ndim < 1 || ndim > 4 || strlen(name) >= MR_PARAM_NAME_MAX) {
        t->failed = 1;
        snprintf(t->fail_msg, sizeof t->fail_msg, "parameter '%.100s': bad rank or name", name);
        return -1;
    }
    mr_param_entry *p = &t->e[t->n];
    memset(p, 0, sizeof *p);
    snprintf(p->d.name, sizeof p->d.name, "%s", name);
    p->d.ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] <= 0) {
            t->failed = 1;
            snprintf(t->fail_msg, sizeof t->fail_msg, "parameter '%.100s': dim %d is %d", name,
                     i, dims[i]);
            return -1;
        }
        p->d.shape[i] = dims[i];
        numel *= (size_t)dims[i];
    }
    p->d.numel = numel;
    p->d.offset = t->numel;
    t->numel += mr_param_align(numel);
    p->init = init;
    p->init_a = init_a;
    p->trainable = trainable;
    p->decay = ndim > 1;
    p->slot = slot;
    p->gslot = gslot;
    return t->n++;
}

int mr_params_add_block(mr_param_table *t, const mr_param_desc *descs, int n, int trainable,
                        float **block, float **gblock)
{
    size_t base = t->numel;
    for (int i = 0; i < n; i++) {
        int dims[4];
        for (int k = 0; k < descs[i].ndim; k++) dims[k] = (int)descs[i].shape[k];
        int idx = mr_params_add(t, descs[i].name, descs[i].ndim, dims, MR_INIT_EXTERNAL, 0,
                                trainable, i == 0 ? block : NULL, i == 0 ? gblock : NULL);
        if (idx < 0) return -1;
        if (t->e[idx].d.offset - base != descs[i].offset) {
            t->failed = 1;
            snprintf(t->fail_msg, sizeof t->fail_msg,
                     "parameter '%.100s': block offset %zu, head says %zu", descs[i].name,
                     t->e[idx].d.offset - base, descs[i].offset);
            return -1;
        }
    }
    if (n == 0) {
        if (block) *block = NULL;
        if (gblock) *gblock = NULL;
    }
    return 0;
}

int mr_params_alloc(mr_param_table *t, mr_err *e)
{
    if (t->failed) return mr_errf(e, MR_EINTERNAL, "model parameters: %s", t->fail_msg);
    size_t bytes = (t->numel ? t->numel : 16) * sizeof(float);
    free(t->data);
    free(t->grad);
    t->data = NULL;
    t->grad = NULL;
    if (posix_memalign((void **)&t->data, 64, bytes) || posix_memalign((void **)&t->grad, 64, bytes))
        return mr_errf(e, MR_ENOMEM, "model parameters: cannot allocate %zu floats", t->numel);
    memset(t->data, 0, bytes);
    memset(t->grad, 0, bytes);
    for (int i = 0; i < t->n; i++) {
        mr_param_entry *p = &t->e[i];
        if (p->slot) *p->slot = t->data + p->d.offset;
        if (p->gslot) *p->gslot = p->trainable ? t->grad + p->d.offset : NULL;
    }
    return MR_OK;
}

static size_t fan_in(const mr_param_entry *p)
{
    size_t f = 1;
    for (int i = 1; i < p->d.ndim; i++) f *= (size_t)p->d.shape[i];
    return f;
}

static size_t fan_out(const mr_param_entry *p)
{
    size_t f = (size_t)p->d.shape[0];
    for (int i = 2; i < p->d.ndim; i++) f *= (size_t)p->d.shape[i];
    return f;
}

void mr_params_init(mr_param_table *t, mr_pcg32 *rng)
{
    for (int i = 0; i < t->n; i++) {
        mr_param_entry *p = &t->e[i];
        float *x = t->data + p->d.offset;
        size_t n = p->d.numel;
        double s = 0;
        switch (p->init) {
        case MR_INIT_EXTERNAL: break;
        case MR_INIT_ZERO: memset(x, 0, n * sizeof *x); break;
        case MR_INIT_ONE: for (size_t k = 0; k < n; k++) x[k] = 1.0f; break;
        case MR_INIT_NORMAL:
            for (size_t k = 0; k < n; k++) x[k] = (float)(p->init_a * mr_pcg32_normal(rng));
            break;
        case MR_INIT_KAIMING_OUT:
        case MR_INIT_KAIMING_IN:
            s = sqrt(2.0 / (double)(p->init == MR_INIT_KAIMING_OUT ? fan_out(p) : fan_in(p)));
            for (size_t k = 0; k < n; k++) x[k] = (float)(s * mr_pcg32_normal(rng));
            break;
        case MR_INIT_KAIMING_UNIF_A1:
        case MR_INIT_TORCH_LINEAR:
            s = p->init == MR_INIT_KAIMING_UNIF_A1 ? sqrt(3.0 / (double)fan_in(p))
                                                    : 1.0 / sqrt((double)fan_in(p));
            for (size_t k = 0; k < n; k++)
                x[k] = (float)(s * (2.0 * mr_pcg32_uniform_double(rng) - 1.0));
            break;
        }
    }
}

const mr_param_entry *mr_params_find(const mr_param_table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].d.name, name)) return &t->e[i];
    return NULL;
}

size_t mr_params_trainable_numel(const mr_param_table *t)
{
    size_t n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->e[i].trainable) n += t->e[i].d.numel;
    return n;
}

void mr_params_free(mr_param_table *t)
{
    free(t->e);
    free(t->data);
    free(t->grad);
    memset(t, 0, sizeof *t);
}
