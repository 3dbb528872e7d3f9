/*
 * shard.c — exchanges of per-image counts between the ranks that share a
 * global batch (see dist.h, mr_shard), built on mr_dist_allgather_i32, so the
 * same code runs over MPI and in one process.
 */
#include "core/dist.h"

#include <stdlib.h>
#include <time.h>
#include <string.h>

int mr_shard_gather(const mr_shard *s, const int32_t *local, int nlocal, int w, int32_t *global, mr_err *e)
{
    int K = mr_dist_size(s->dist), B = s->global_n;
    if (K <= 1) {
        memmove(global, local, sizeof(int32_t) * (size_t)nlocal * w);
        return MR_OK;
    }
    int nmax = (B + K - 1) / K, lo, n;
    int32_t *mine = malloc(sizeof(int32_t) * (size_t)nmax * w);
    int32_t *all = malloc(sizeof(int32_t) * (size_t)nmax * w * K);
    if (!mine || !all) { free(mine); free(all); return mr_errf(e, MR_ENOMEM, "shard: out of memory"); }
    memset(mine, 0, sizeof(int32_t) * (size_t)nmax * w);
    memcpy(mine, local, sizeof(int32_t) * (size_t)nlocal * w);
    int rc = mr_dist_allgather_i32(s->dist, mine, nmax * w, all, e);
    for (int r = 0; r < K && !rc; r++) {
        mr_dist_split(B, K, r, &lo, &n);
        memcpy(global + (size_t)lo * w, all + (size_t)r * nmax * w, sizeof(int32_t) * (size_t)n * w);
    }
    free(mine);
    free(all);
    return rc;
}

int mr_shard_sum_int(const mr_shard *s, int mine, long *sum, mr_err *e)
{
    int K = mr_dist_size(s->dist);
    int32_t *all = malloc(sizeof(int32_t) * (size_t)K), m = mine;
    if (!all) return mr_errf(e, MR_ENOMEM, "shard: out of memory");
    int rc = mr_dist_allgather_i32(s->dist, &m, 1, all, e);
    long t = 0;
    for (int r = 0; r < K && !rc; r++) t += all[r];
    free(all);
    *sum = t;
    return rc;
}

double mr_dist_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
