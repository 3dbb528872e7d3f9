/*
 * ablate_slurm.h — `mrcnn ablate TABLE --slurm`: the sweep of ablate.h run as
 * one Slurm job array instead of local child processes. The first call
 * writes RUNS/PRESET/slurm/LABEL/job.sh (one array task per row x seed not
 * finished) and submits it with sbatch; a later call (or --wait) finds the
 * job gone from the queue and writes the tables from the finished runs,
 * listing the runs whose task failed with the path of their log. A dry run
 * returns the script without writing or submitting it.
 *
 * defines: mr_slurm_opts, mr_slurm_check_time, mr_slurm_check_opts,
 *   mr_slurm_script, mr_ablate_slurm
 */
#ifndef MR_ABLATE_SLURM_H
#define MR_ABLATE_SLURM_H

#include "core/err.h"
#include "harness/ablate.h"

#define MR_SLURM_MAX_ARGS 16

typedef struct mr_slurm_opts {
    const char *exe;            /* the mrcnn binary the tasks run (absolute) */
    const char *partition;      /* #SBATCH --partition (NULL: the cluster's default) */
    const char *time;           /* #SBATCH --time per task (NULL: the partition's) */
    const char *account;        /* #SBATCH --account */
    const char *sbatch[MR_SLURM_MAX_ARGS];  /* further #SBATCH lines, each one "--opt=value" */
    int nsbatch;
    int ranks;                  /* > 1: each task trains data-parallel on this many ranks
                                   (srun --mpi=pmix inside the task) */
    int max_running;            /* > 0: at most this many tasks at once (--array=...%N) */
    int wait;                   /* wait for the job, then write the tables */
    int dry_run;                /* return the script only */
    int resubmit;               /* submit again even if job_id names a job */
} mr_slurm_opts;

/* 1 if t is a time sbatch accepts (minutes, MM:SS, HH:MM:SS, D-HH,
 * D-HH:MM, D-HH:MM:SS) */
int mr_slurm_check_time(const char *t);
/* MR_EUSAGE naming the option that cannot go into a script */
int mr_slurm_check_opts(const mr_slurm_opts *so, mr_err *e);
/* the job-array script for jobs[0..nj) (malloc'd; NULL when out of memory):
 * tasks run from workdir, Slurm's output in sweep_dir/task_%a.out */
char *mr_slurm_script(const mr_slurm_opts *so, const char *exe, const char *workdir, const char *sweep_dir,
                      const char *label, const mr_ablate_job *jobs, int nj);
/* the sweep (see the top of this file); *script gets the dry run's script */
int mr_ablate_slurm(const mr_ablate_opts *o, const mr_slurm_opts *so, char **script, mr_err *e);

#endif
