/*
 * train_run.c — one training run end to end (see train_run.h): config,
 * dataset, model, the training loop with warm-up and step decay, progress,
 * train_log.jsonl, periodic atomic checkpoints and --resume, evaluation on
 * val (results_val.json, metrics.json), speed.json (the fps protocol of
 * speed.h) and record.json.
 *
 * A run refused before its first iteration (frozen layers left random, init
 * weights that do not load, a dataset the loader refuses) removes the
 * directories it created; a directory that was there stays.
 *
 * Determinism: same config + seed + threads => bitwise identical
 * checkpoints and metrics.
 */
#include "harness/train_run.h"

#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "coco/coco.h"
#include "coco/rle.h"
#include "core/detector.h"
#include "core/fileio.h"
#include "core/init_weights.h"
#include "core/json.h"
#include "core/postprocess.h"
#include "core/safetensors.h"
#include "core/train.h"
#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/loader.h"
#include "harness/run_split.h"
#include "harness/speed.h"
#include "core/pcg32.h"
#include "core/progress.h"
#include "harness/record.h"
#include "variants/config.h"

/* newest checkpoint_NNNNNNN.safetensors in dir into path; 0 if none */
static long newest_checkpoint(const char *dir, char *path, size_t n)
{
    DIR *d = opendir(dir);
    long best = -1;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long it;
        char tail[64];
        if (sscanf(de->d_name, "checkpoint_%ld.%63s", &it, tail) == 2 && !strcmp(tail, "safetensors") && it > best) {
            best = it;
            snprintf(path, n, "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    return best > 0 ? best : 0;
}

/* A run resumed after its last iteration (killed while evaluating) times
 * no training: the training half of its speed is the one speed.json got
 * when training ended, not 0. */
static int keep_train_speed(const char *path, mr_fps *f, mr_err *e)
{
    if (!mr_file_exists(path)) return MR_OK;
    cJSON *j = NULL;
    int rc = mr_json_load_file(path, &j, e);
    if (rc) return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "train_iter_per_s");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "protocol"), "iters");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "train_stages_ms");
    if (!cJSON_IsNumber(v) || !cJSON_IsNumber(it) || !cJSON_IsObject(ms)) {
        cJSON_Delete(j);
        return mr_errf(e, MR_EUSER, "%s: expected train_iter_per_s, protocol.iters and train_stages_ms", path);
    }
    f->train_iter_per_s = v->valuedouble;
    f->iters = (long)it->valuedouble;
    const char *k[4] = {"backbone", "rpn", "roi_extract", "heads"};
    double *dst[4] = {&f->train_ms.backbone, &f->train_ms.rpn, &f->train_ms.roi_extract, &f->train_ms.heads};
    for (int i = 0; i < 4; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(ms, k[i]);
        if (cJSON_IsNumber(x)) *dst[i] = x->valuedouble;
    }
    cJSON_Delete(j);
    return MR_OK;
}

/* keep the lines of train_log.jsonl whose iter <= upto (resume): rewritten
 * atomically; a line that does not parse (torn by a kill) is dropped */
static int truncate_log(const char *path, long upto, mr_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    if (!mr_file_exists(path)) return MR_OK;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    mr_atomic_file af;
    if ((rc = mr_atomic_open(&af, path, e))) { free(buf); return rc; }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, "iter");
        if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= (double)upto)
            fprintf(af.f, "%s\n", line);
        cJSON_Delete(j);
    }
    free(buf);
    return mr_atomic_commit(&af, e);
}

/* FNV-1a of the weights: every rank must hold the same bits */
static uint64_t weights_hash(const mr_detector *d)
{
    const unsigned char *p = (const unsigned char *)d->params.data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < d->params.numel * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* the ranks' weights after training, compared on every rank */
static int check_same_weights(mr_dist *dist, const mr_detector *d, mr_err *e)
{
    int K = mr_dist_size(dist);
    if (K <= 1) return MR_OK;
    uint64_t h = weights_hash(d);
    int32_t mine[2] = {(int32_t)(uint32_t)(h >> 32), (int32_t)(uint32_t)h};
    int32_t *all = malloc(sizeof(int32_t) * 2 * (size_t)K);
    if (!all) return mr_errf(e, MR_ENOMEM, "out of memory");
    int rc = mr_dist_allgather_i32(dist, mine, 2, all, e);
    for (int r = 1; r < K && !rc; r++)
        if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
            rc = mr_errf(e, MR_EINTERNAL, "after training, rank %d's weights differ from rank 0's (a bug in "
                         "data-parallel training)", r);
    free(all);
    return rc;
}

/* the trainer's state from rank 0 to every rank */
static int bcast_trainer(mr_dist *dist, mr_trainer *t, mr_err *e)
{
    if (mr_dist_size(dist) <= 1) return MR_OK;
    mr_detector *d = t->d;
    int64_t st[3] = {t->iter, (int64_t)t->rng.state, (int64_t)t->rng.inc};
    int rc = mr_dist_bcast(dist, st, sizeof st, 0, e);
    if (!rc) rc = mr_dist_bcast(dist, d->params.data, d->params.numel * sizeof(float), 0, e);
    if (!rc) rc = mr_dist_bcast(dist, t->momentum, d->params.numel * sizeof(float), 0, e);
    t->iter = (long)st[0];
    t->rng.state = (uint64_t)st[1];
    t->rng.inc = (uint64_t)st[2];
    return rc;
}

/* The starting weights: init.weights' tensors over the usual initial
 * values (every rank alike; a resumed run's checkpoint replaces them
 * later), reported in RUN/init.json and through o->note (write: rank 0 of
 * a run not yet finished); then frozen tensors left random are refused. */
static int start_weights(const mr_config *c, const char *config_path, mr_detector *d, const char *out_dir, int write,
                         const mr_train_opts *o, mr_init_report *ir, mr_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/init.json", out_dir);
    if (write) remove(path);   /* a report of an earlier run in this directory */
    int rc, loaded = 0;
    if (c->init_weights[0]) {
        if ((rc = mr_init_load(&d->params, c->init_weights, c->init_strict, ir, e))) return rc;
        loaded = 1;
        if (write) {
            cJSON *j = mr_init_report_json(ir);
            rc = j ? mr_json_write_file(path, j, e) : mr_errf(e, MR_ENOMEM, "out of memory");
            cJSON_Delete(j);
            if (rc) return rc;
            if (o->note) {
                char line[8192];
                if (mr_init_report_names_line(ir, line, sizeof line)) o->note(o->note_ctx, line);
                mr_init_report_line(ir, line, 2048);
                size_t l = strlen(line);
                snprintf(line + l, sizeof line - l, " (list: %.4200s)", path);
                o->note(o->note_ctx, line);
            }
        }
    }
    char names[512], why[96] = "";
    int nf = mr_init_frozen_random(&d->params, loaded ? ir : NULL, names, sizeof names);
    if (c->spec.backbone.freeze_at == c->spec.backbone.norm->default_freeze_at)
        snprintf(why, sizeof why, " (the default of norm \"%s\")", c->norm);
    if (nf)
        return mr_errf(e, MR_EUSER,
                       "%s: backbone.freeze_at %d%s freezes %d tensor%s whose weights would stay at their random "
                       "initial values (%s)%s: start from weights that hold them (--init W.safetensors, or "
                       "\"init\": {\"weights\": \"W.safetensors\"} in the config: a converted torchvision "
                       "checkpoint or an ImageNet backbone), or train them: \"backbone\": {\"freeze_at\": 0} in the "
                       "config (or --set backbone.freeze_at=0)",
                       config_path, c->spec.backbone.freeze_at, why, nf, nf == 1 ? "" : "s", names, loaded ? ", not in the init weights" : "");
    return MR_OK;
}

/* the init report's counts in the record (RUN/init.json, when the run
 * started from given weights) */
static int record_init(const char *out_dir, cJSON *rec, mr_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/init.json", out_dir);
    if (!mr_file_exists(path)) return MR_OK;
    cJSON *j = NULL;
    int rc = mr_json_load_file(path, &j, e);
    if (rc) return rc;
    static const char *const keep[] = {"weights", "strict", "tensors_in_file", "loaded_count", "loaded_values",
                                       "missing_count", "unexpected_count", "shape_mismatch_count"};
    cJSON *s = cJSON_CreateObject();
    for (size_t k = 0; s && k < sizeof keep / sizeof keep[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keep[k]);
        if (v) cJSON_AddItemToObject(s, keep[k], cJSON_Duplicate(v, 1));
    }
    cJSON_Delete(j);
    if (!s) return mr_errf(e, MR_ENOMEM, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "init");
    cJSON_AddItemToObject(rec, "init", s);
    return MR_OK;
}

int mr_train_run(const char *config_path, const char *data_dir, const char *out_dir,
                 const mr_train_opts *o, mr_err *e)
{
    mr_train_opts defo = {0};
    defo.seed = -1;
    if (!o) o = &defo;
    mr_dist *dist = o->dist;
    const int K = mr_dist_size(dist), lead = mr_dist_rank(dist) == 0;
    int threads = o->threads > 0 ? o->threads : 1;
    mr_run_set_threads(threads);
    mr_config c;
    mr_run_split tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    mr_detector *d = NULL;
    mr_trainer t;
    memset(&t, 0, sizeof t);
    mr_loader *L = NULL;
    FILE *log = NULL;
    char path[4096], fp[32], logpath[4096];
    /* ---- set-up: every rank reaches the agreement below, failed or not ---- */
    int rc = mr_config_load_set(&c, config_path, o->sets, o->nsets, e), finished = 0;
    if (!rc) {
        if (o->max_iters > 0) mr_schedule_scale(&c.sched, o->max_iters);
        if (o->seed >= 0) c.seed = (uint64_t)o->seed;
        rc = mr_run_bind_data(&c, config_path, data_dir, &tr, &va, e);
    }
    /* a run refused before its first iteration leaves no directory it made */
    char made[4096] = "";
    int started = 0;
    if (!rc && lead) rc = mr_mkdir_p_new(out_dir, made, sizeof made, e);
    if (!rc && lead) {
        mr_clean_stale_tmp(out_dir, NULL);   /* temporaries of writers killed before their rename */
        if (o->resume) {
            /* a finished run (record.json) or one killed while committing
             * (record.pending.json): its record is committed, nothing redone */
            cJSON *cj = mr_config_to_json(&c), *rec = NULL;
            rc = cj ? mr_record_recover(out_dir, o->store, cj, &rec, e) : mr_errf(e, MR_ENOMEM, "out of memory");
            cJSON_Delete(cj);
            if (!rc && rec) finished = 1;
            cJSON_Delete(rec);
        } else {
            /* a new run in an old directory: the old run's record (already in
             * its store) must not make this one look finished if it is killed */
            const char *old[2] = {"record.json", "record.pending.json"};
            for (int k = 0; k < 2; k++) {
                char op[4200];
                snprintf(op, sizeof op, "%s/%s", out_dir, old[k]);
                remove(op);
            }
        }
    }
    if (!rc && lead && !finished) {
        snprintf(path, sizeof path, "%s/config.json", out_dir);
        rc = mr_config_write(&c, path, e);
    }
    if (!rc) {
        mr_config_fingerprint(&c, fp, sizeof fp);
        if ((rc = mr_detector_create(&d, &c.spec, e))) mr_err_prefix(e, "%s", config_path);
    }
    mr_init_report ir;
    memset(&ir, 0, sizeof ir);
    if (!rc) {
        mr_detector_init_weights(d, c.seed);
        if (!finished) rc = start_weights(&c, config_path, d, out_dir, lead, o, &ir, e);
    }
    if (!rc) rc = mr_trainer_init(&t, d, &c.sched, c.seed, e);
    if (!rc) rc = mr_trainer_set_dist(&t, dist, c.batch_size, e);
    snprintf(logpath, sizeof logpath, "%s/train_log.jsonl", out_dir);
    if (!rc && lead && !finished) {
        if (o->resume) {
            char ck[4096];
            long it = newest_checkpoint(out_dir, ck, sizeof ck);
            if (it > 0) {
                if (!(rc = mr_trainer_load(&t, ck, fp, e))) rc = truncate_log(logpath, t.iter, e);
            } else {
                remove(logpath);
            }
        } else {
            remove(logpath);
        }
    }
    if (!rc && lead && !finished) {
        log = fopen(logpath, "a");
        if (!log) rc = mr_errf(e, MR_EIO, "%s: cannot open for writing", logpath);
    }
    int fin32 = finished;
    if (K > 1) {
        if ((rc = mr_dist_agree(dist, rc, e))) goto done;
        if ((rc = mr_dist_bcast(dist, &fin32, sizeof fin32, 0, e))) goto done;
    }
    if (rc || fin32) goto done;
    if ((rc = bcast_trainer(dist, &t, e))) goto done;
    mr_loader_cfg lc;
    mr_run_loader_cfg(&c, 1, &lc);
    if (K > 1) mr_dist_split(c.batch_size, K, mr_dist_rank(dist), &lc.shard_lo, &lc.shard_n);
    rc = mr_loader_open(&L, &tr.ds, &lc, e);
    if (K > 1 && (rc = mr_dist_agree(dist, rc, e))) goto done;
    if (rc) goto done;
    /* ---- training: from here an error on one rank ends the job ---- */
    started = 1;
    const int show = !o->quiet && lead;
    mr_progress pg;
    if (show) {
        mr_progress_init(&pg, stderr, "train", c.sched.iters);
        mr_progress_resume(&pg, t.iter);
    }
    double t0 = mr_run_wall(), t_timed = 0, sum_warm = 0, wait_warm = 0;
    long timed_iters = 0, start_iter = t.iter;
    mr_stage_ms ms_warm;
    memset(&d->ms, 0, sizeof d->ms);
    memset(&ms_warm, 0, sizeof ms_warm);
    while (t.iter < c.sched.iters) {
        const mr_batch *b;
        if ((rc = mr_loader_get(L, t.iter, &b, e))) goto done;
        double ts = mr_run_wall();
        mr_losses Ls;
        if ((rc = mr_trainer_step(&t, b, &Ls, e))) goto done;
        if (t.iter - start_iter > MR_FPS_WARMUP) { t_timed += mr_run_wall() - ts; timed_iters++; }
        else if (t.iter - start_iter == MR_FPS_WARMUP) { ms_warm = d->ms; sum_warm = t.grad_sum_sec; wait_warm = t.grad_wait_sec; }
        if (log && (t.iter % c.log_every == 0 || t.iter == c.sched.iters)) {
            fprintf(log, "{\"iter\": %ld, \"lr\": %.8g, \"loss\": %.6g, \"loss_rpn_cls\": %.6g, \"loss_rpn_box\": %.6g, "
                         "\"loss_cls\": %.6g, \"loss_box\": %.6g, ",
                    t.iter, t.last_lr, Ls.total, Ls.rpn_cls, Ls.rpn_box, Ls.cls, Ls.box);
            if (Ls.has_mask) fprintf(log, "\"loss_mask\": %.6g, ", Ls.mask);
            if (Ls.has_kp) fprintf(log, "\"loss_kp\": %.6g, ", Ls.kp);
            fprintf(log, "\"sec\": %.3f}\n", mr_run_wall() - t0);
            fflush(log);
        }
        if (show) {
            mr_progress_set(&pg, "loss", Ls.total);
            mr_progress_set(&pg, "rpn_cls", Ls.rpn_cls);
            mr_progress_set(&pg, "rpn_box", Ls.rpn_box);
            mr_progress_set(&pg, "cls", Ls.cls);
            mr_progress_set(&pg, "box", Ls.box);
            if (Ls.has_mask) mr_progress_set(&pg, "mask", Ls.mask);
            if (Ls.has_kp) mr_progress_set(&pg, "kp", Ls.kp);
            mr_progress_update(&pg, t.iter);
        }
        if (lead && (t.iter % c.checkpoint_every == 0 || t.iter == c.sched.iters)) {
            snprintf(path, sizeof path, "%s/checkpoint_%07ld.safetensors", out_dir, t.iter);
            if ((rc = mr_trainer_save(&t, path, fp, e))) goto done;
        }
    }
    if (show) mr_progress_finish(&pg);
    mr_loader_close(L);
    L = NULL;
    if ((rc = check_same_weights(dist, d, e))) goto done;
    if (!lead) goto done;   /* rank 0 alone evaluates and writes the rest */
    /* the fps protocol: training over the timed iterations */
    mr_fps f;
    memset(&f, 0, sizeof f);
    mr_run_fps_machine(&f, threads);
    f.warmup = MR_FPS_WARMUP;
    f.iters = timed_iters;
    f.rounds = 1;
    f.stat = "mean over the run";
    f.batch = c.batch_size;
    f.world_size = K;
    f.grad_bytes = (double)d->params.numel * sizeof(float);
    f.input_h = mr_run_round_up(tr.maxh, c.size_div);
    f.input_w = mr_run_round_up(tr.maxw, c.size_div);
    f.train_iter_per_s = timed_iters > 0 && t_timed > 0 ? timed_iters / t_timed : 0;
    if (timed_iters > 0) {
        mr_run_ms_add(&f.train_ms, &d->ms, 1.0 / (double)timed_iters);
        mr_run_ms_add(&f.train_ms, &ms_warm, -1.0 / (double)timed_iters);
        f.train_grad_sum_ms = 1e3 * (t.grad_sum_sec - sum_warm) / (double)timed_iters;
        f.train_grad_wait_ms = 1e3 * (t.grad_wait_sec - wait_warm) / (double)timed_iters;
    }
    snprintf(path, sizeof path, "%s/speed.json", out_dir);
    if (timed_iters > 0) {
        /* the training half now: a run killed before its record keeps it */
        if ((rc = mr_run_write_fps(path, &f, e))) goto done;
    } else if ((rc = keep_train_speed(path, &f, e))) {
        goto done;
    }
    snprintf(path, sizeof path, "%s/model_final.safetensors", out_dir);
    char *cats = mr_run_categories_meta(&tr.ds);
    cJSON *cj = mr_config_to_json(&c);
    char *ctext = cj ? cJSON_PrintUnformatted(cj) : NULL;
    cJSON_Delete(cj);
    rc = cats && ctext ? mr_detector_save_weights(d, path, cats, ctext, e) : mr_errf(e, MR_ENOMEM, "out of memory");
    free(cats);
    free(ctext);
    if (rc) goto done;
    /* evaluation on val */
    mr_coco res;
    mr_run_infer_stats is;
    if ((rc = mr_run_infer_split(d, &va, &c, &res, &is, e))) { mr_coco_free(&res); goto done; }
    snprintf(path, sizeof path, "%s/results_val.json", out_dir);
    rc = mr_coco_save_results(&res, path, e);
    mr_coco_free(&res);
    if (rc) goto done;
    double ap = 0;
    if ((rc = mr_run_evaluate(&va, path, out_dir, c.mask_on, c.kp_on, &ap, e))) goto done;
    mr_run_fps_infer(&f, &is);
    snprintf(path, sizeof path, "%s/speed.json", out_dir);
    if ((rc = mr_run_write_fps(path, &f, e))) goto done;
    cJSON *rec = NULL;
    if ((rc = mr_record_build(out_dir, o->config_name ? o->config_name : c.name, (long)c.seed, threads, &rec, e)))
        goto done;
    mr_record_set_world(rec, K);
    if ((rc = record_init(out_dir, rec, e))) { cJSON_Delete(rec); goto done; }
    rc = mr_record_commit(out_dir, rec, o->store, e);
    cJSON_Delete(rec);
done:
    mr_init_report_free(&ir);
    if (log) fclose(log);
    log = NULL;
    if (rc && !started && made[0]) mr_remove_tree(made);
    mr_loader_close(L);
    mr_trainer_free(&t);
    mr_detector_free(d);
    mr_run_split_free(&tr);
    mr_run_split_free(&va);
    return rc;
}
