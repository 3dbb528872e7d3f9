/*
 * ablate_slurm.c — ablation sweeps on a Slurm cluster (see ablate_slurm.h):
 * one job-array script per sweep, one array task per row x seed not yet
 * finished, each running exactly what the local scheduler runs for that
 * run (`mrcnn ablate --run-one CONFIG DATA RUN SEED THREADS ITERS 1 STORE
 * NAME`, its output appended to RUN/train.out) under `flock RUN/lock`, so a
 * local `mrcnn ablate` on the same runs skips it while it trains. Resume is
 * always on: a task that is requeued, or a second sweep, continues the
 * run from its newest checkpoint (on a fresh directory resume is a fresh
 * start; a finished run only has its record committed).
 *
 * The sweep's folder RUNS/PRESET/slurm/LABEL/ holds job.sh, job_id (the
 * submitted array) and task_N.out (Slurm's own output of each task). Each
 * task writes its exit status to RUN/task_rc, which the table reads to show
 * a run that failed (mr_ablate_collect).
 */
#include "harness/ablate_slurm.h"

#include "core/fileio.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

/* ---- checks of the options ---- */

int mr_slurm_check_time(const char *t)
{
    /* minutes | MM:SS | HH:MM:SS | D-HH | D-HH:MM | D-HH:MM:SS (sbatch --time) */
    if (!t || !*t) return 0;
    const char *p = t;
    int days = 0;
    const char *dash = strchr(t, '-');
    if (dash) {
        if (dash == t) return 0;
        for (const char *q = t; q < dash; q++)
            if (!isdigit((unsigned char)*q)) return 0;
        days = 1;
        p = dash + 1;
    }
    int fields = 0;
    while (*p) {
        int nd = 0;
        while (isdigit((unsigned char)*p)) { p++; nd++; }
        if (nd == 0 || nd > 6) return 0;
        fields++;
        if (*p == ':') { p++; if (!*p) return 0; }
        else if (*p) return 0;
    }
    return days ? fields >= 1 && fields <= 3 : fields >= 1 && fields <= 3;
}

static int safe_word(const char *s)
{
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_.-,:=+/%@", *p))) return 0;
    return 1;
}

int mr_slurm_check_opts(const mr_slurm_opts *so, mr_err *e)
{
    if (so->partition && !safe_word(so->partition))
        return mr_errf(e, MR_EUSAGE, "--partition '%s': expected a Slurm partition name (letters, digits, _ . -)",
                       so->partition);
    if (so->account && !safe_word(so->account))
        return mr_errf(e, MR_EUSAGE, "--account '%s': expected a Slurm account name (letters, digits, _ . -)",
                       so->account);
    if (so->time && !mr_slurm_check_time(so->time))
        return mr_errf(e, MR_EUSAGE, "--time '%s': expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS",
                       so->time);
    if (so->ranks < 0 || so->ranks > 4096) return mr_errf(e, MR_EUSAGE, "--ranks %d: expected 1..4096", so->ranks);
    for (int i = 0; i < so->nsbatch; i++)
        if (!safe_word(so->sbatch[i]) || strncmp(so->sbatch[i], "--", 2))
            return mr_errf(e, MR_EUSAGE, "--sbatch '%s': expected one sbatch option such as --qos=high or "
                           "--mem=8G (no spaces or quotes)", so->sbatch[i]);
    return MR_OK;
}

/* ---- the script ---- */

typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if ((size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

/* s single-quoted for the shell */
static void put_q(sbuf *b, const char *s)
{
    put(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') put(b, "'\\''");
        else put(b, "%c", *p);
    }
    put(b, "'");
}

char *mr_slurm_script(const mr_slurm_opts *so, const char *exe, const char *workdir, const char *sweep_dir,
                      const char *label, const mr_ablate_job *jobs, int nj)
{
    sbuf b = {malloc(4096), 0, 4096, 0};
    if (!b.p) return NULL;
    b.p[0] = 0;
    int threads = nj ? jobs[0].threads : 1, ranks = so->ranks > 1 ? so->ranks : 1;
    put(&b, "#!/bin/bash\n");
    put(&b, "# mrcnn ablate %s --slurm: one array task per row x seed that is not finished.\n", label);
    put(&b, "# Each task runs what the local scheduler runs for that run (mrcnn ablate --run-one,\n"
            "# resuming from the newest checkpoint), holding RUN/lock, its output appended to\n"
            "# RUN/train.out, its exit status in RUN/task_rc. Written by mrcnn; resubmitting it is safe.\n");
    put(&b, "#SBATCH --job-name=mrcnn-ablate-%s\n", label);
    put(&b, "#SBATCH --array=0-%d%s", nj > 0 ? nj - 1 : 0, "");
    if (so->max_running > 0) put(&b, "%%%d", so->max_running);
    put(&b, "\n");
    if (ranks > 1) put(&b, "#SBATCH --ntasks=%d\n", ranks);
    else put(&b, "#SBATCH --ntasks=1\n");
    put(&b, "#SBATCH --cpus-per-task=%d\n", threads);
    put(&b, "#SBATCH --output=%s/task_%%a.out\n", sweep_dir);
    put(&b, "#SBATCH --chdir=%s\n", workdir);
    if (so->partition) put(&b, "#SBATCH --partition=%s\n", so->partition);
    if (so->time) put(&b, "#SBATCH --time=%s\n", so->time);
    if (so->account) put(&b, "#SBATCH --account=%s\n", so->account);
    for (int i = 0; i < so->nsbatch; i++) put(&b, "#SBATCH %s\n", so->sbatch[i]);
    put(&b, "set -u\n");
    put(&b, "MRCNN=");
    put_q(&b, exe);
    put(&b, "\n");
    put(&b, "case \"${SLURM_ARRAY_TASK_ID:?run this script with sbatch}\" in\n");
    for (int i = 0; i < nj; i++) {
        const mr_ablate_job *j = &jobs[i];
        char seed[32], thr[16], it[32];
        snprintf(seed, sizeof seed, "%ld", j->seed);
        snprintf(thr, sizeof thr, "%d", j->threads);
        snprintf(it, sizeof it, "%ld", j->max_iters);
        put(&b, "%d) RUN=", i);
        put_q(&b, j->run_dir);
        put(&b, "; set -- ");
        const char *args[9] = {j->config, j->data_dir, j->run_dir, seed, thr, it, "1", j->store ? j->store : "-",
                               j->config_name};
        for (int k = 0; k < 9; k++) {
            put_q(&b, args[k]);
            put(&b, k < 8 ? " " : "");
        }
        put(&b, " ;;\n");
    }
    put(&b, "*) echo \"mrcnn ablate: no task $SLURM_ARRAY_TASK_ID in this array\" >&2; exit 2 ;;\nesac\n");
    put(&b, "mkdir -p \"$RUN\" && rm -f \"$RUN/task_rc\"\n");
    if (ranks > 1)
        put(&b, "flock \"$RUN/lock\" srun --mpi=pmix --ntasks=%d \"$MRCNN\" ablate --run-one \"$@\" >> \"$RUN/train.out\" 2>&1\n",
            ranks);
    else
        put(&b, "flock \"$RUN/lock\" \"$MRCNN\" ablate --run-one \"$@\" >> \"$RUN/train.out\" 2>&1\n");
    put(&b, "rc=$?\necho $rc > \"$RUN/task_rc\"\n");
    put(&b, "[ $rc = 0 ] || echo \"mrcnn ablate: task $SLURM_ARRAY_TASK_ID ($RUN) failed with exit $rc; its log: $RUN/train.out\" >&2\n");
    put(&b, "exit $rc\n");
    if (b.oom) { free(b.p); return NULL; }
    return b.p;
}

/* ---- submitting and waiting ---- */

/* first line of a command's stdout into out; its exit status */
static int run_cmd(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    out[0] = 0;
    if (!fgets(out, (int)n, p)) out[0] = 0;
    char sink[512];
    while (fgets(sink, sizeof sink, p)) {}
    int st = pclose(p);
    out[strcspn(out, "\r\n")] = 0;
    return st == -1 ? -1 : WEXITSTATUS(st);
}

/* is job id still in the queue (pending, running, completing)? -1: squeue failed */
static int job_active(const char *id)
{
    char cmd[256], out[256];
    snprintf(cmd, sizeof cmd, "squeue -h -j %s -o %%i 2>/dev/null", id);
    int rc = run_cmd(cmd, out, sizeof out);
    if (rc != 0) {
        /* an id Slurm has purged reads as an error: finished */
        return rc == 127 ? -1 : 0;
    }
    return out[0] != 0;
}

static int valid_id(const char *s)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

int mr_ablate_slurm(const mr_ablate_opts *o, const mr_slurm_opts *so, char **script, mr_err *e)
{
    if (script) *script = NULL;
    int rc = mr_slurm_check_opts(so, e);
    if (rc) return rc;
    const char *const *ids;
    int nids;
    mr_ablate_names(&ids, &nids);
    char sel[16];
    if ((rc = mr_ablate_select(o->table, sel, e))) return rc;
    /* the sweep's folder */
    char label[64], sweep[4200];
    snprintf(label, sizeof label, "%.60s", o->table);
    for (char *p = label; *p; p++)
        if (*p == ',') *p = '_';
    snprintf(sweep, sizeof sweep, "%s/%s/slurm/%s", o->runs_dir, o->preset, label);
    char idpath[4300], jobpath[4300], jid[64] = "";
    snprintf(idpath, sizeof idpath, "%s/job_id", sweep);
    snprintf(jobpath, sizeof jobpath, "%s/job.sh", sweep);
    /* a job submitted before: still running, or finished (then tabulate) */
    if (!so->dry_run && !so->resubmit && mr_file_exists(idpath)) {
        char *buf = NULL;
        size_t len = 0;
        if ((rc = mr_read_file(idpath, &buf, &len, e))) return rc;
        snprintf(jid, sizeof jid, "%.60s", buf);
        free(buf);
        jid[strcspn(jid, "\r\n ")] = 0;
        if (!valid_id(jid)) return mr_errf(e, MR_EUSER, "%s: '%s' is not a Slurm job id", idpath, jid);
    }
    int pending[16] = {0}, nj = 0;
    mr_ablate_job *jobs = NULL;
    mr_ablate_opts po = *o;
    po.dry_run = so->dry_run;
    po.keep_dry_jobs = 1;
    if (!jid[0]) {
        /* the jobs to submit; the threads are those a local run gets */
        if ((rc = mr_ablate_plan(&po, &jobs, &nj, pending, e))) return rc;
        if (nj > 0) {
            char cwdb[4096];
            if (!getcwd(cwdb, sizeof cwdb)) { free(jobs); return mr_errf(e, MR_EIO, "cannot read the working directory"); }
            char *s = mr_slurm_script(so, so->exe, cwdb, sweep, label, jobs, nj);
            if (!s) { free(jobs); return mr_errf(e, MR_ENOMEM, "out of memory"); }
            if (so->dry_run) {
                free(jobs);
                if (script) *script = s;
                else free(s);
                return MR_OK;
            }
            if ((rc = mr_mkdir_p(sweep, e)) || (rc = mr_write_file_atomic(jobpath, s, strlen(s), e))) {
                free(s);
                free(jobs);
                return rc;
            }
            free(s);
            /* tasks of an earlier sweep must not read as failed now */
            for (int i = 0; i < nj; i++) {
                char p[4300];
                snprintf(p, sizeof p, "%s/task_rc", jobs[i].run_dir);
                remove(p);
            }
            char cmd[4600], out[256];
            snprintf(cmd, sizeof cmd, "sbatch --parsable '%s' 2>&1", jobpath);
            int src = run_cmd(cmd, out, sizeof out);
            char *semi = strchr(out, ';');   /* "id;cluster" */
            if (semi) *semi = 0;
            if (src != 0 || !valid_id(out)) {
                free(jobs);
                return mr_errf(e, MR_EIO, "sbatch %s failed (exit %d): %s", jobpath, src,
                               src == 127 ? "sbatch not found (is Slurm installed?)" : out);
            }
            snprintf(jid, sizeof jid, "%.60s", out);
            char line[80];
            snprintf(line, sizeof line, "%s\n", jid);
            if ((rc = mr_write_file_atomic(idpath, line, strlen(line), e))) { free(jobs); return rc; }
            mr_ablate_say(o, "submitted job %s: %d array task%s (%s); Slurm's output in %s/task_N.out", jid, nj,
                nj == 1 ? "" : "s", jobpath, sweep);
        } else if (so->dry_run) {
            free(jobs);
            return mr_errf(e, MR_EUSER, "table %s: every run is finished, nothing to submit", o->table);
        }
        free(jobs);
        jobs = NULL;
    }
    if (jid[0]) {
        int act = job_active(jid);
        if (act < 0) return mr_errf(e, MR_EIO, "squeue not found (is Slurm installed?)");
        if (act && !so->wait) {
            mr_ablate_say(o, "job %s is still in the queue (squeue -j %s); run this command again when it has finished, "
                "or add --wait", jid, jid);
            return MR_OK;
        }
        if (act) mr_ablate_say(o, "waiting for job %s (squeue -j %s)", jid, jid);
        while (act > 0) {
            struct timespec ts = {0, 500 * 1000000L};
            nanosleep(&ts, NULL);
            act = job_active(jid);
        }
    }
    /* every table of the sweep, from the finished runs; failed tasks listed */
    for (int ti = 0; ti < nids; ti++) {
        if (!sel[ti]) continue;
        if ((rc = mr_ablate_tabulate(o, ids[ti], e))) return rc;
    }
    /* a sweep that finished with failures says so, with the logs */
    if ((rc = mr_ablate_plan(&po, &jobs, &nj, pending, e))) return rc;
    int failed = 0;
    char first[4300] = "";
    for (int i = 0; i < nj; i++) {
        if (mr_ablate_run_done(jobs[i].run_dir)) continue;
        failed++;
        if (!first[0]) snprintf(first, sizeof first, "%s/train.out", jobs[i].run_dir);
    }
    free(jobs);
    if (failed && jid[0]) {
        remove(idpath);   /* the next call submits the unfinished runs again */
        return mr_errf(e, MR_EUSER, "job %s: %d run%s did not finish (first log: %s); the table lists them as "
                       "failed; run the command again to resubmit them", jid, failed, failed == 1 ? "" : "s", first);
    }
    return MR_OK;
}
