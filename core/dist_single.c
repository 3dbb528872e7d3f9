/*
 * dist_single.c — the one-process communicator (see dist.h), built when
 * there is no MPI: rank 0 of 1; sums, gathers and broadcasts are copies or
 * nothing. Asked to join a job that a launcher started with several ranks,
 * it refuses, rather than let each rank train alone into the same files.
 */
#include "core/dist.h"

#include <stdlib.h>
#include <string.h>

int mr_dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

const char *mr_dist_impl(void) { return "single"; }
const char *mr_dist_library(void) { return "none (built without MPI)"; }

int mr_dist_init(mr_dist *d, int want_mpi, mr_err *e)
{
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (want_mpi) {
        const char *n = getenv("OMPI_COMM_WORLD_SIZE");
        if (!n) n = getenv("PMI_SIZE");
        if (n && atoi(n) > 1)
            return mr_errf(e, MR_EUSAGE,
                           "started as one of %s ranks, but this mrcnn was built without MPI "
                           "(install libopenmpi-dev and rebuild: make clean && make)", n);
    }
    return MR_OK;
}

void mr_dist_finish(mr_dist *d) { (void)d; }

int mr_dist_sum_f32(mr_dist *d, float *buf, size_t n, mr_err *e)
{
    (void)d; (void)buf; (void)n; (void)e;
    return MR_OK;
}

int mr_dist_sum_f64(mr_dist *d, double *buf, size_t n, mr_err *e)
{
    (void)d; (void)buf; (void)n; (void)e;
    return MR_OK;
}

int mr_dist_allgather_i32(mr_dist *d, const int32_t *mine, int n, int32_t *all, mr_err *e)
{
    (void)d; (void)e;
    if (n > 0 && all != mine) memmove(all, mine, sizeof(int32_t) * (size_t)n);
    return MR_OK;
}

int mr_dist_bcast(mr_dist *d, void *buf, size_t bytes, int root, mr_err *e)
{
    (void)d; (void)buf; (void)bytes;
    if (root != 0) return mr_errf(e, MR_EINTERNAL, "broadcast from rank %d of 1", root);
    return MR_OK;
}

int mr_dist_barrier(mr_dist *d, mr_err *e)
{
    (void)d; (void)e;
    return MR_OK;
}

int mr_dist_agree(mr_dist *d, int rc, mr_err *e)
{
    (void)d; (void)e;
    return rc;
}

void mr_dist_abort(mr_dist *d, int code)
{
    (void)d;
    exit(code);
}
