/*
 * dist.h — the communicator of data-parallel training: which process this
 * is (rank) of how many (size), and the few collective operations training
 * needs. Two implementations, chosen at build time by the Makefile:
 * core/dist_mpi.c (Open MPI, built when mpicc is found or MPI=1) and
 * core/dist_single.c (one process: rank 0 of 1, every operation a copy or
 * nothing). Everything above core/ talks to this header only.
 *
 * Reproducibility: mr_dist_sum_f32 and mr_dist_sum_f64 add the ranks'
 * buffers in rank order (((b0 + b1) + b2) + ...) element by element, in our
 * code, not in MPI_Allreduce (whose order is the library's choice and may
 * change with the message size, the algorithm or the version). The data
 * movement is a reduce-scatter by blocks (MPI_Alltoallv: rank r receives
 * block r of every rank, sums them in rank order) and an allgather of the
 * summed blocks: bitwise the same result on every rank, for a fixed size,
 * whatever MPI does inside. With one rank, the buffer is left as it is.
 *
 * Only `mrcnn train` starts MPI, and only under a launcher (mpirun, srun
 * with PMIx): mr_dist_launched() says whether the environment names one.
 *
 * Failure: a library error on one rank cannot be returned to the others
 * (they wait in a collective); the command line prints the message and calls
 * mr_dist_abort, which ends every rank (MPI_Abort). A rank that dies
 * (killed, out of memory) is noticed by the launcher, which kills the others.
 *
 * defines: mr_dist, mr_dist_launched, mr_dist_init, mr_dist_finish,
 *   mr_dist_rank, mr_dist_size, mr_dist_impl, mr_dist_sum_f32,
 *   mr_dist_sum_f64, mr_dist_allgather_i32, mr_dist_bcast, mr_dist_barrier,
 *   mr_dist_agree, mr_dist_abort, mr_dist_library, mr_dist_split, mr_shard,
 *   mr_shard_gather, mr_shard_sum_int
 */
#ifndef MR_DIST_H
#define MR_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef struct mr_dist {
    int rank, size;
    int mpi;               /* 1: MPI was started by mr_dist_init (finish it) */
    int agreed;            /* 1: a failure every rank reached alike (mr_dist_agree, or the
                              diverged global loss): rank 0 reports it, no abort */
    double sum_sec;        /* wall time spent in mr_dist_sum_f32 (the gradient sum) */
    long sum_calls;
    void *scratch;         /* the sums' receive buffer, grown as needed */
    size_t scratch_bytes;
} mr_dist;

/* 1 when a launcher started this process as one rank of a job (Open MPI's
 * mpirun: OMPI_COMM_WORLD_SIZE; PMIx (srun --mpi=pmix): PMIX_RANK; MPICH:
 * PMI_RANK), 0 otherwise. */
int mr_dist_launched(void);
/* "mpi" or "single": the implementation built in, and its library version
 * (for `mrcnn version` and records) */
const char *mr_dist_impl(void);
const char *mr_dist_library(void);
/* One process (rank 0 of 1) when want_mpi is 0 or this is the single
 * build; otherwise start MPI (MPI_Init) and take MPI_COMM_WORLD. The single
 * build asked for MPI under a launcher that started several ranks fails
 * (each would train alone and write the same files). */
int mr_dist_init(mr_dist *d, int want_mpi, mr_err *e);
/* End MPI: waits (sleeping, not spinning) until every rank gets here, so
 * ranks done early leave the cores to rank 0's evaluation */
void mr_dist_finish(mr_dist *d);
/* monotonic wall-clock seconds (for the time of the sums) */
double mr_dist_wall(void);
static inline int mr_dist_rank(const mr_dist *d) { return d ? d->rank : 0; }
static inline int mr_dist_size(const mr_dist *d) { return d ? d->size : 1; }

/* buf (n values, the same n on every rank) := the sum over ranks, in rank
 * order; every rank gets the same bits */
int mr_dist_sum_f32(mr_dist *d, float *buf, size_t n, mr_err *e);
int mr_dist_sum_f64(mr_dist *d, double *buf, size_t n, mr_err *e);
/* all (size * n ints) := every rank's mine (n ints), in rank order */
int mr_dist_allgather_i32(mr_dist *d, const int32_t *mine, int n, int32_t *all, mr_err *e);
/* bytes from root to every rank */
int mr_dist_bcast(mr_dist *d, void *buf, size_t bytes, int root, mr_err *e);
int mr_dist_barrier(mr_dist *d, mr_err *e);
/* Collective: every rank passes its own status (rc, e). When all are MR_OK,
 * returns MR_OK. Otherwise every rank returns the lowest failing rank's code
 * with its message (prefixed "rank R of K: " when R > 0), so the ranks stop
 * together and rank 0 alone can print it. */
int mr_dist_agree(mr_dist *d, int rc, mr_err *e);
/* End every rank of the job with exit status code (MPI_Abort); with one
 * process, exit(code). Never returns. */
void mr_dist_abort(mr_dist *d, int code) __attribute__((noreturn));

/* ---- the shards of a global batch (core/shard.c, over the calls above) ---- */

/* images [lo, lo + n) of a global batch of B images belong to rank r of K:
 * lo = B r / K (contiguous blocks, sizes differing by at most one) */
static inline void mr_dist_split(int B, int K, int r, int *lo, int *n)
{
    int a = (int)((long long)B * r / K), b = (int)((long long)B * (r + 1) / K);
    *lo = a;
    *n = b - a;
}

/* One rank's part of a training step: its images are b->img[0..n) =
 * images [first, first + n) of the global batch of global_n. The detector
 * uses it to sample exactly as one process would over the whole batch and
 * to normalise the losses by the global counts (core/detector.h). */
typedef struct mr_shard {
    mr_dist *dist;
    int first, global_n;
} mr_shard;

/* every rank's per-image rows (w ints per local image, in image order) into
 * global (global_n * w ints, in global image order) */
int mr_shard_gather(const mr_shard *s, const int32_t *local, int nlocal, int w, int32_t *global, mr_err *e);
/* the sum of one int over the ranks */
int mr_shard_sum_int(const mr_shard *s, int mine, long *sum, mr_err *e);

#endif
