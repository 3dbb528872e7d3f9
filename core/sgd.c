/*
 * sgd.c — SGD with momentum and weight decay, and the warm-up + step-decay
 * learning-rate schedule (see sgd.h for the exact formulas).
 */
#include "core/sgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int mr_lr_schedule_check(const mr_lr_schedule *s, mr_err *e)
{
    if (!(s->base_lr > 0.0f) || !isfinite(s->base_lr))
        return mr_errf(e, MR_EUSER, "lr schedule: base_lr must be a positive number, got %g", s->base_lr);
    if (s->warmup_iters < 0)
        return mr_errf(e, MR_EUSER, "lr schedule: warmup_iters must be >= 0, got %ld", s->warmup_iters);
    if (s->warmup_iters > 0 && !(s->warmup_factor > 0.0f && s->warmup_factor <= 1.0f))
        return mr_errf(e, MR_EUSER, "lr schedule: warmup_factor must be in (0, 1], got %g", s->warmup_factor);
    if (s->nsteps < 0 || s->nsteps > MR_LR_MAX_STEPS)
        return mr_errf(e, MR_EUSER, "lr schedule: at most %d steps, got %d", MR_LR_MAX_STEPS, s->nsteps);
    for (int i = 0; i < s->nsteps; i++)
        if (s->steps[i] <= 0 || (i > 0 && s->steps[i] <= s->steps[i - 1]))
            return mr_errf(e, MR_EUSER, "lr schedule: steps must be positive and increasing (steps[%d] = %ld)",
                           i, s->steps[i]);
    if (s->nsteps > 0 && !(s->gamma > 0.0f && s->gamma <= 1.0f))
        return mr_errf(e, MR_EUSER, "lr schedule: gamma must be in (0, 1], got %g", s->gamma);
    return MR_OK;
}

float mr_lr_at(const mr_lr_schedule *s, long it)
{
    double f = 1.0;
    if (it < s->warmup_iters) {
        const double a = (double)it / (double)s->warmup_iters;
        f = s->warmup_factor * (1.0 - a) + a;
    }
    int k = 0;
    while (k < s->nsteps && s->steps[k] <= it) k++;  /* bisect_right */
    return (float)(s->base_lr * f * pow(s->gamma, k));
}

int mr_sgd_init(mr_sgd *o, size_t n, float momentum, const mr_sgd_group *groups, int ngroups,
                mr_err *e)
{
    memset(o, 0, sizeof *o);
    if (!(momentum >= 0.0f && momentum < 1.0f))
        return mr_errf(e, MR_EUSER, "sgd: momentum must be in [0, 1), got %g", momentum);
    if (ngroups < 0 || (ngroups > 0 && !groups))
        return mr_errf(e, MR_EUSER, "sgd: bad group list");
    for (int i = 0; i < ngroups; i++) {
        const mr_sgd_group *g = &groups[i];
        if (g->offset > n || g->count > n - g->offset)
            return mr_errf(e, MR_EUSER, "sgd: group %d [%zu, %zu) is outside the %zu parameters",
                           i, g->offset, g->offset + g->count, n);
        if (!(g->weight_decay >= 0.0f) || !isfinite(g->weight_decay) || !(g->lr_mult >= 0.0f) ||
            !isfinite(g->lr_mult))
            return mr_errf(e, MR_EUSER, "sgd: group %d: weight_decay and lr_mult must be finite and >= 0", i);
        for (int j = 0; j < i; j++) {
            const mr_sgd_group *h = &groups[j];
            if (g->count && h->count && g->offset < h->offset + h->count && h->offset < g->offset + g->count)
                return mr_errf(e, MR_EUSER, "sgd: groups %d and %d overlap", j, i);
        }
    }
    o->buf = calloc(n ? n : 1, sizeof(float));
    o->groups = malloc((ngroups ? (size_t)ngroups : 1) * sizeof *o->groups);
    if (!o->buf || !o->groups) {
        mr_sgd_free(o);
        return mr_errf(e, MR_ENOMEM, "sgd: cannot allocate %zu momentum values", n);
    }
    if (ngroups) memcpy(o->groups, groups, (size_t)ngroups * sizeof *groups);
    o->n = n;
    o->ngroups = ngroups;
    o->momentum = momentum;
    return MR_OK;
}

void mr_sgd_step(mr_sgd *o, float *params, const float *grads, float lr)
{
    const float m = o->momentum;
    for (int gi = 0; gi < o->ngroups; gi++) {
        const mr_sgd_group *g = &o->groups[gi];
        const float wd = g->weight_decay, glr = lr * g->lr_mult;
        float *p = params + g->offset, *b = o->buf + g->offset;
        const float *d = grads + g->offset;
        const long cnt = (long)g->count;
#pragma omp parallel for schedule(static) if (cnt >= 32768)
        for (long i = 0; i < cnt; i++) {
            const float gr = d[i] + wd * p[i];
            b[i] = m * b[i] + gr;
            p[i] -= glr * b[i];
        }
    }
}

void mr_sgd_free(mr_sgd *o)
{
    free(o->buf);
    free(o->groups);
    memset(o, 0, sizeof *o);
}
