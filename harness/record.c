/*
 * record.c — building and committing a run's record (see record.h).
 * The commit is the one baked into the binary at build time
 * (core/buildinfo.h), so a record names the code that actually ran; when the
 * binary was built outside git, `git rev-parse` is asked at run time.
 */
#include "harness/record.h"
#include "harness/store.h"
#include "core/buildinfo.h"
#include "core/fileio.h"
#include "core/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void mr_machine_detect(mr_machine *m, int threads)
{
    memset(m, 0, sizeof *m);
    snprintf(m->cpu, sizeof m->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10)) continue;
            char *c = strchr(line, ':');
            if (!c) continue;
            c++;
            while (*c == ' ' || *c == '\t') c++;
            size_t n = strcspn(c, "\n");
            c[n] = 0;
            snprintf(m->cpu, sizeof m->cpu, "%s", c);
            break;
        }
        fclose(f);
    }
    m->cores_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    m->threads = threads > 0 ? threads : mr_blas_threads();
    const char *core = mr_blas_core();
    snprintf(m->blas_core, sizeof m->blas_core, "%s", core ? core : "unknown");
    snprintf(m->arch, sizeof m->arch, "%s", mr_arch());
    snprintf(m->cpu_isa, sizeof m->cpu_isa, "%s", mr_cpu_isa());
    snprintf(m->build_isa, sizeof m->build_isa, "%s", mr_build_isa());
    snprintf(m->compiler, sizeof m->compiler, "%s", mr_compiler());
    snprintf(m->flags, sizeof m->flags, "%s", mr_build_flags());
    snprintf(m->class_id, sizeof m->class_id, "%s cpu %s, build %s, OpenBLAS %s, %s %s, %d thread%s", m->arch,
             m->cpu_isa, m->build_isa, m->blas_core, m->compiler, m->flags, m->threads, m->threads == 1 ? "" : "s");
}

cJSON *mr_machine_json(const mr_machine *m)
{
    cJSON *mj = cJSON_CreateObject();
    cJSON_AddStringToObject(mj, "cpu", m->cpu);
    cJSON_AddNumberToObject(mj, "threads", m->threads);
    cJSON_AddNumberToObject(mj, "cores_online", m->cores_online);
    cJSON_AddStringToObject(mj, "blas_core", m->blas_core);
    cJSON_AddStringToObject(mj, "arch", m->arch);
    cJSON_AddStringToObject(mj, "cpu_isa", m->cpu_isa);
    cJSON_AddStringToObject(mj, "build_isa", m->build_isa);
    cJSON_AddStringToObject(mj, "compiler", m->compiler);
    cJSON_AddStringToObject(mj, "flags", m->flags);
    cJSON_AddStringToObject(mj, "class", m->class_id);
    return mj;
}

int mr_json_load(const char *path, cJSON **out, mr_err *e)
{
    char *buf;
    size_t len;
    *out = NULL;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(buf, &end, 1);
    if (!j) {
        long off = end ? (long)(end - buf) : 0;
        int line = 1;
        for (long i = 0; i < off && buf[i]; i++) line += buf[i] == '\n';
        free(buf);
        return mr_errf(e, MR_EUSER, "%s:%d: not valid JSON (byte %ld)", path, line, off);
    }
    free(buf);
    if ((rc = mr_json_check_finite(j, path, e))) { cJSON_Delete(j); return rc; }
    *out = j;
    return MR_OK;
}

int mr_metrics_summary(const cJSON *metrics, const char *where, cJSON **out, mr_err *e)
{
    *out = NULL;
    if (!cJSON_IsObject(metrics))
        return mr_errf(e, MR_EUSER, "%s: expected an object {\"bbox\": EVAL, ...}", where);
    cJSON *s = cJSON_CreateObject();
    const cJSON *ev;
    cJSON_ArrayForEach(ev, metrics) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "metrics");
        if (!cJSON_IsObject(m)) {
            cJSON_Delete(s);
            return mr_errf(e, MR_EUSER, "%s: \"%s\" has no \"metrics\" object (EVAL format, docs/run_layout.md)",
                           where, ev->string);
        }
        cJSON_AddItemToObject(s, ev->string, cJSON_Duplicate(m, 1));
    }
    *out = s;
    return MR_OK;
}

/* the commit the binary was built from, or git's answer at run time */
static void git_identity(char *commit, size_t n, int *dirty)
{
    snprintf(commit, n, "%s", mr_git_commit());
    *dirty = mr_git_dirty();
    if (strcmp(commit, "unknown")) return;
    FILE *p = popen("git rev-parse --short=12 HEAD 2>/dev/null", "r");
    if (!p) return;
    char buf[128] = {0};
    if (fgets(buf, sizeof buf, p)) {
        buf[strcspn(buf, "\n")] = 0;
        if (buf[0]) snprintf(commit, n, "%s", buf);
    }
    pclose(p);
    p = popen("git status --porcelain --untracked-files=no 2>/dev/null", "r");
    if (!p) return;
    *dirty = fgetc(p) != EOF;
    pclose(p);
}

void mr_record_set_world(cJSON *rec, int world_size)
{
    if (!rec) return;
    int K = world_size > 1 ? world_size : 1;
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "world_size");
    cJSON_AddNumberToObject(rec, "world_size", K);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "machine");
    if (!cJSON_IsObject(m)) return;
    cJSON_DeleteItemFromObjectCaseSensitive(m, "world_size");
    cJSON_AddNumberToObject(m, "world_size", K);
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(m, "class");
    if (K > 1 && cJSON_IsString(cl)) {
        char buf[1200];
        snprintf(buf, sizeof buf, "%.1100s, %d ranks", cl->valuestring, K);
        cJSON_DeleteItemFromObjectCaseSensitive(m, "class");
        cJSON_AddStringToObject(m, "class", buf);
    }
}

int mr_record_build(const char *run_dir, const char *config_name, long seed, int threads,
                    cJSON **out, mr_err *e)
{
    char path[4200];
    cJSON *config = NULL, *metrics = NULL, *speed = NULL, *summary = NULL;
    *out = NULL;
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    int rc = mr_json_load(path, &config, e);
    if (rc) goto done;
    snprintf(path, sizeof path, "%s/metrics.json", run_dir);
    if ((rc = mr_json_load(path, &metrics, e))) goto done;
    if ((rc = mr_metrics_summary(metrics, path, &summary, e))) goto done;
    snprintf(path, sizeof path, "%s/speed.json", run_dir);
    if (mr_file_exists(path) && (rc = mr_json_load(path, &speed, e))) goto done;

    char name[256];
    if (config_name) snprintf(name, sizeof name, "%s", config_name);
    else {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", run_dir);
        size_t l = strlen(tmp);
        while (l > 1 && tmp[l - 1] == '/') tmp[--l] = 0;
        const char *b = strrchr(tmp, '/');
        snprintf(name, sizeof name, "%.250s", b ? b + 1 : tmp);
    }
    if (seed < 0) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(config, "seed");
        seed = cJSON_IsNumber(s) ? (long)s->valuedouble : 0;
    }
    char commit[128], date[32];
    int dirty;
    git_identity(commit, sizeof commit, &dirty);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    mr_machine m;
    mr_machine_detect(&m, threads);

    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "commit", commit);
    cJSON_AddBoolToObject(r, "dirty", dirty);
    cJSON_AddStringToObject(r, "date", date);
    cJSON_AddItemToObject(r, "machine", mr_machine_json(&m));
    cJSON_AddStringToObject(r, "config_name", name);
    cJSON_AddItemToObject(r, "config", config);
    config = NULL;
    cJSON_AddNumberToObject(r, "seed", (double)seed);
    cJSON_AddItemToObject(r, "metrics", summary);
    summary = NULL;
    /* AP at each IoU threshold, for the AP-vs-IoU plots from the store */
    cJSON *api = cJSON_CreateObject();
    const cJSON *ev;
    cJSON_ArrayForEach(ev, metrics) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "ap_per_iou");
        if (cJSON_IsArray(a)) cJSON_AddItemToObject(api, ev->string, cJSON_Duplicate(a, 1));
    }
    cJSON_AddItemToObject(r, "ap_per_iou", api);
    if (speed) { cJSON_AddItemToObject(r, "speed", speed); speed = NULL; }
    else cJSON_AddNullToObject(r, "speed");
    char rel[4096];
    mr_path_for_record(run_dir, rel, sizeof rel);
    cJSON_AddStringToObject(r, "run_dir", rel);
    *out = r;
done:
    cJSON_Delete(config);
    cJSON_Delete(metrics);
    cJSON_Delete(speed);
    cJSON_Delete(summary);
    return rc;
}

int mr_record_commit(const char *run_dir, const cJSON *rec, const char *store, mr_err *e)
{
    int rc = mr_record_validate(rec, run_dir, e);
    if (rc) return rc;
    char *txt = cJSON_Print(rec);
    if (!txt) return mr_errf(e, MR_ENOMEM, "%s: could not serialise the record", run_dir);
    char path[4200], pending[4200];
    snprintf(path, sizeof path, "%s/record.json", run_dir);
    snprintf(pending, sizeof pending, "%s/record.pending.json", run_dir);
    size_t n = strlen(txt);
    txt[n] = '\n';  /* replaces the NUL; length passed explicitly */
    /* the order makes a crash anywhere recoverable: record.pending.json, the
     * store (idempotent), then record.json, which says "done" to ablate */
    rc = mr_write_file_atomic(pending, txt, n + 1, e);
    free(txt);
    if (rc) return rc;
    mr_fault_point("record_pending");
    if (store && (rc = mr_store_append(store, rec, e))) return rc;
    mr_fault_point("record_stored");
    if (rename(pending, path) != 0)
        return mr_errf(e, MR_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
    return MR_OK;
}

int mr_record_recover(const char *run_dir, const char *store, const cJSON *config, cJSON **out, mr_err *e)
{
    char path[4200];
    *out = NULL;
    cJSON *rec = NULL;
    int pending = 0, rc;
    snprintf(path, sizeof path, "%s/record.json", run_dir);
    if (!mr_file_exists(path)) {
        snprintf(path, sizeof path, "%s/record.pending.json", run_dir);
        if (!mr_file_exists(path)) return MR_OK;
        pending = 1;
    }
    if ((rc = mr_json_load(path, &rec, e)) || (rc = mr_record_validate(rec, path, e))) goto fail;
    if (config) {
        char diff[1024] = "";
        mr_json_diff(cJSON_GetObjectItemCaseSensitive(rec, "config"), config, 1, diff, sizeof diff);
        if (diff[0]) {
            rc = mr_errf(e, MR_EUSER, "%s: the run finished with another config (%s): move the run directory "
                         "away to train again", path, diff);
            goto fail;
        }
    }
    if (pending) rc = mr_record_commit(run_dir, rec, store, e);
    else if (store) rc = mr_store_append(store, rec, e);
    if (rc) goto fail;
    *out = rec;
    return MR_OK;
fail:
    cJSON_Delete(rec);
    return rc;
}
