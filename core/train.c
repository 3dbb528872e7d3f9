/*
 * train.c — SGD steps, the schedule and checkpoints (see train.h).
 */
#include "core/train.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "core/sgd.h"

double mr_schedule_lr(const mr_schedule *s, long it)
{
    double f = 1.0;
    if (it < s->warmup_iters && s->warmup_iters > 0) {
        double alpha = (double)it / (double)s->warmup_iters;
        f = s->warmup_factor * (1.0 - alpha) + alpha;
    }
    for (int i = 0; i < s->nsteps; i++)
        if (it >= s->steps[i]) f *= s->gamma;
    return s->lr * f;
}

void mr_schedule_scale(mr_schedule *s, long iters)
{
    double f = (double)iters / (double)s->iters;
    for (int i = 0; i < s->nsteps; i++) {
        long v = (long)(s->steps[i] * f);
        long lo = i ? s->steps[i - 1] + 1 : 1;
        s->steps[i] = v < lo ? lo : v;
    }
    if (s->warmup_iters > iters / 2) s->warmup_iters = iters / 2;
    s->iters = iters;
}

int mr_trainer_init(mr_trainer *t, mr_detector *d, const mr_schedule *s, uint64_t seed, mr_err *e)
{
    memset(t, 0, sizeof *t);
    t->d = d;
    t->sch = *s;
    /* one SGD group per trainable tensor (weight decay only where the
     * parameter table says so); frozen tensors are in no group */
    const mr_param_table *pt = &d->params;
    mr_sgd_group *g = malloc((size_t)(pt->n ? pt->n : 1) * sizeof *g);
    if (!g) return mr_errf(e, MR_ENOMEM, "trainer: cannot allocate the SGD groups");
    int ng = 0;
    for (int i = 0; i < pt->n; i++) {
        const mr_param_entry *p = &pt->e[i];
        if (!p->trainable) continue;
        g[ng++] = (mr_sgd_group){p->d.offset, p->d.numel,
                                 p->decay ? (float)s->weight_decay : 0.0f, 1.0f};
    }
    int rc = mr_sgd_init(&t->opt, pt->numel, (float)s->momentum, g, ng, e);
    free(g);
    if (rc) return mr_err_prefix(e, "trainer");
    t->momentum = t->opt.buf;
    mr_pcg32_seed(&t->rng, seed, 0x73616d706c65 /* "sample" */);
    return MR_OK;
}

void mr_trainer_free(mr_trainer *t)
{
    mr_sgd_free(&t->opt);
    t->momentum = NULL;
}

int mr_trainer_set_dist(mr_trainer *t, mr_dist *dist, int global_batch, mr_err *e)
{
    int K = mr_dist_size(dist), n;
    if (K > global_batch)
        return mr_errf(e, MR_EUSAGE, "%d ranks for a batch of %d images: at most one rank per image "
                       "(raise batch_size or start fewer ranks)", K, global_batch);
    t->dist = K > 1 ? dist : NULL;
    t->global_batch = global_batch;
    mr_dist_split(global_batch, K, mr_dist_rank(dist), &t->shard_first, &n);
    return MR_OK;
}

int mr_trainer_step(mr_trainer *t, const mr_batch *b, mr_losses *L, mr_err *e)
{
    mr_detector *d = t->d;
    mr_shard sh = {t->dist, t->shard_first, t->global_batch};
    int rc = mr_detector_train_step_grads_shard(d, b, t->dist ? &sh : NULL, &t->rng, L, e);
    if (rc) return mr_err_prefix(e, "iteration %ld", t->iter + 1);
    if (t->dist) {
        /* the global batch's gradient and losses: sums in rank order */
        /* timed apart: waiting for the slowest rank, then the sum itself */
        double t0 = mr_dist_wall();
        if ((rc = mr_dist_barrier(t->dist, e))) return mr_err_prefix(e, "iteration %ld", t->iter + 1);
        double t1 = mr_dist_wall();
        if ((rc = mr_dist_sum_f32(t->dist, d->params.grad, d->params.numel, e)))
            return mr_err_prefix(e, "iteration %ld", t->iter + 1);
        t->grad_wait_sec += t1 - t0;
        t->grad_sum_sec += mr_dist_wall() - t1;
        double v[8] = {L->rpn_cls, L->rpn_box, L->cls, L->box, L->mask, L->kp, L->rois, L->pos_rois};
        if ((rc = mr_dist_sum_f64(t->dist, v, 8, e))) return mr_err_prefix(e, "iteration %ld", t->iter + 1);
        L->rpn_cls = v[0]; L->rpn_box = v[1]; L->cls = v[2]; L->box = v[3]; L->mask = v[4]; L->kp = v[5];
        L->rois = (int)v[6];
        L->pos_rois = (int)v[7];
        L->total = L->rpn_cls + L->rpn_box + L->cls + L->box + L->mask + L->kp;
        if (!isfinite(L->total)) {
            /* every rank holds this sum: all stop here, agreed, before the step */
            t->dist->agreed = 1;
            char extra[64] = "";
            if (L->has_mask) snprintf(extra, sizeof extra, " mask %g", L->mask);
            if (L->has_kp) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " kp %g", L->kp);
            return mr_errf(e, MR_EUSER, "iteration %ld: training diverged: loss is %g (rpn_cls %g rpn_box %g cls %g "
                           "box %g%s); lower schedule.lr or lengthen schedule.warmup_iters", t->iter + 1, L->total,
                           L->rpn_cls, L->rpn_box, L->cls, L->box, extra);
        }
    }
    float lr = (float)mr_schedule_lr(&t->sch, t->iter);
    mr_sgd_step(&t->opt, d->params.data, d->params.grad, lr);
    t->last_lr = lr;
    t->iter++;
    return MR_OK;
}

/* entries for the parameters (and momentum when non-NULL) */
static int make_entries(const mr_param_table *pt, const float *mom, mr_st_entry **out, char ***names,
                        int *n)
{
    int cnt = pt->n * (mom ? 2 : 1);
    mr_st_entry *en = calloc((size_t)cnt, sizeof *en);
    char **nm = calloc((size_t)cnt, sizeof *nm);
    if (!en || !nm) { free(en); free(nm); return -1; }
    int k = 0;
    for (int pass = 0; pass < (mom ? 2 : 1); pass++)
        for (int i = 0; i < pt->n; i++) {
            const mr_param_entry *p = &pt->e[i];
            if (pass == 1 && !p->trainable) continue;
            size_t len = strlen(p->d.name) + 16;
            nm[k] = malloc(len);
            if (!nm[k]) { for (int j = 0; j < k; j++) free(nm[j]); free(en); free(nm); return -1; }
            snprintf(nm[k], len, "%s%s", pass ? "momentum." : "", p->d.name);
            en[k].name = nm[k];
            en[k].ndim = p->d.ndim;
            for (int q = 0; q < p->d.ndim; q++) en[k].shape[q] = p->d.shape[q];
            en[k].data = (pass ? mom : pt->data) + p->d.offset;
            k++;
        }
    *out = en;
    *names = nm;
    *n = k;
    return 0;
}

static int save(const mr_param_table *pt, const float *mom, const char *path, const char *const *mk,
                const char *const *mv, int nmeta, mr_err *e)
{
    mr_st_entry *en;
    char **nm;
    int n;
    if (make_entries(pt, mom, &en, &nm, &n)) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = mr_st_write(path, en, n, mk, mv, nmeta, e);
    for (int i = 0; i < n; i++) free(nm[i]);
    free(nm);
    free(en);
    return rc;
}

int mr_detector_save_weights(const mr_detector *d, const char *path, const char *categories, const char *config,
                             mr_err *e)
{
    const char *mk[3] = {"format"}, *mv[3] = {"mrcnn"};
    int n = 1;
    if (categories) { mk[n] = "categories"; mv[n++] = categories; }
    if (config) { mk[n] = "config"; mv[n++] = config; }
    return save(&d->params, NULL, path, mk, mv, n, e);
}

int mr_trainer_save(const mr_trainer *t, const char *path, const char *fingerprint, mr_err *e)
{
    char it[32], st[32], inc[32], ws[16];
    snprintf(it, sizeof it, "%ld", t->iter);
    snprintf(st, sizeof st, "%" PRIu64, t->rng.state);
    snprintf(inc, sizeof inc, "%" PRIu64, t->rng.inc);
    snprintf(ws, sizeof ws, "%d", mr_dist_size(t->dist));
    const char *mk[6] = {"format", "iteration", "rng_state", "rng_inc", "config", "world_size"};
    const char *mv[6] = {"mrcnn", it, st, inc, fingerprint ? fingerprint : "", ws};
    return save(&t->d->params, t->momentum, path, mk, mv, 6, e);
}

static int load_into(const mr_st_file *f, const mr_param_table *pt, float *base, const char *prefix,
                     int only_trainable, mr_err *e)
{
    char nm[MR_PARAM_NAME_MAX + 16];
    for (int i = 0; i < pt->n; i++) {
        const mr_param_entry *p = &pt->e[i];
        if (only_trainable && !p->trainable) continue;
        snprintf(nm, sizeof nm, "%s%s", prefix, p->d.name);
        if (!mr_st_find(f, nm))
            return mr_errf(e, MR_EUSER, "%s: tensor '%s' missing (checkpoint from another config?)",
                           f->path, nm);
        int rc = mr_st_get_f32(f, nm, p->d.ndim, p->d.shape, base + p->d.offset, e);
        if (rc) return mr_err_prefix(e, "checkpoint does not fit this config");
        /* nan or inf weights would infer without a word (every score alike) */
        const float *v = base + p->d.offset;
        for (size_t k = 0; k < p->d.numel; k++)
            if (!isfinite(v[k]))
                return mr_errf(e, MR_EUSER, "checkpoint %s: tensor %s: element %zu is %s, expected a finite number",
                               f->path, nm, k, isnan(v[k]) ? "nan" : v[k] > 0 ? "inf" : "-inf");
    }
    return MR_OK;
}

int mr_detector_load_weights(mr_detector *d, const char *path, mr_err *e)
{
    mr_st_file f;
    int rc = mr_st_read(&f, path, e);
    if (rc) return rc;
    rc = load_into(&f, &d->params, d->params.data, "", 0, e);
    mr_st_close(&f);
    return rc;
}

static int meta_u64(const mr_st_file *f, const char *key, uint64_t *out, mr_err *e)
{
    const char *v = mr_st_meta(f, key);
    char *end = NULL;
    if (!v || !*v) return mr_errf(e, MR_EUSER, "%s: metadata '%s' missing (not a training checkpoint)", f->path, key);
    *out = strtoull(v, &end, 10);
    if (*end) return mr_errf(e, MR_EUSER, "%s: metadata '%s' = '%s': expected an integer", f->path, key, v);
    return MR_OK;
}

int mr_trainer_load(mr_trainer *t, const char *path, const char *fingerprint, mr_err *e)
{
    mr_st_file f;
    int rc = mr_st_read(&f, path, e);
    if (rc) return rc;
    uint64_t it = 0, st = 0, inc = 0;
    if ((rc = meta_u64(&f, "iteration", &it, e)) || (rc = meta_u64(&f, "rng_state", &st, e)) ||
        (rc = meta_u64(&f, "rng_inc", &inc, e)))
        goto done;
    /* the split of every batch, and so the numbers, depend on the ranks:
     * checkpoints without the field come from one process */
    uint64_t ws = 1;
    if (mr_st_meta(&f, "world_size") && (rc = meta_u64(&f, "world_size", &ws, e))) goto done;
    if ((int)ws != mr_dist_size(t->dist)) {
        rc = mr_errf(e, MR_EUSER, "%s: checkpoint written by a run on %d process%s, this run has %d: resume with "
                     "the same number (mpirun -np %d), or start a new run directory",
                     path, (int)ws, ws == 1 ? "" : "es", mr_dist_size(t->dist), (int)ws);
        goto done;
    }
    const char *fp = mr_st_meta(&f, "config");
    if (fingerprint && fp && strcmp(fp, fingerprint)) {
        rc = mr_errf(e, MR_EUSER, "%s: checkpoint written by a different config (fingerprint %s, this config %s)",
                     path, fp, fingerprint);
        goto done;
    }
    if ((rc = load_into(&f, &t->d->params, t->d->params.data, "", 0, e))) goto done;
    if ((rc = load_into(&f, &t->d->params, t->momentum, "momentum.", 1, e))) goto done;
    t->iter = (long)it;
    t->rng.state = st;
    t->rng.inc = inc;
done:
    mr_st_close(&f);
    return rc;
}
