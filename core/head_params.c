/*
 * head_params.c — the tensor listing loop shared by the heads' *_params()
 * functions (see head_params.h).
 */
#include "core/head_params.h"

#include <stdio.h>
#include <string.h>

void mr_param_lister_add(mr_param_lister *l, const char *name, int ndim, int64_t d0, int64_t d1,
                         int64_t d2, int64_t d3)
{
    int64_t d[4] = {d0, d1, d2, d3};
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)d[i];
    if (l->out && l->n < l->max) {
        mr_param_desc *p = &l->out[l->n];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s%s", l->prefix ? l->prefix : "", name);
        p->ndim = ndim;
        for (int i = 0; i < ndim; i++) p->shape[i] = d[i];
        p->numel = numel;
        p->offset = l->off;
    }
    l->n++;
    l->off += mr_param_align(numel);
}
