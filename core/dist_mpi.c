/*
 * dist_mpi.c — the communicator over MPI (see dist.h), built when the
 * Makefile finds mpicc. Sums are ours, in rank order: MPI only moves bytes
 * (MPI_Alltoallv for the reduce-scatter by blocks, MPI_Allgatherv for the
 * result), so the bits do not depend on MPI's reduction algorithms.
 * Only the calling thread uses MPI (MPI_THREAD_FUNNELED): OpenMP and the
 * loader's prefetch thread never do.
 */
#include "core/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mr_dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

const char *mr_dist_impl(void) { return "mpi"; }

const char *mr_dist_library(void)
{
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];   /* written once; the same text each call */
    int len = 0;
    if (!v[0]) {
        MPI_Get_library_version(v, &len);
        v[strcspn(v, ",\n")] = 0;
    }
    return v;
}

int mr_dist_init(mr_dist *d, int want_mpi, mr_err *e)
{
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (!want_mpi) return MR_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return mr_errf(e, MR_EIO, "MPI_Init_thread failed");
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    return MR_OK;
}

void mr_dist_finish(mr_dist *d)
{
    if (!d) return;
    free(d->scratch);
    d->scratch = NULL;
    d->scratch_bytes = 0;
    if (d->mpi && d->size > 1) {
        MPI_Request rq;
        if (MPI_Ibarrier(MPI_COMM_WORLD, &rq) == MPI_SUCCESS) {
            int done = 0;
            struct timespec ts = {0, 20 * 1000 * 1000};
            while (MPI_Test(&rq, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) nanosleep(&ts, NULL);
        }
    }
    if (d->mpi) MPI_Finalize();
    d->mpi = 0;
}

static int grow(mr_dist *d, size_t bytes, mr_err *e)
{
    if (bytes <= d->scratch_bytes) return MR_OK;
    void *p = realloc(d->scratch, bytes);
    if (!p) return mr_errf(e, MR_ENOMEM, "gradient sum: cannot allocate %zu bytes", bytes);
    d->scratch = p;
    d->scratch_bytes = bytes;
    return MR_OK;
}

/* One chunk of at most INT_MAX / size elements: block r = [n r / K, n (r+1) / K) */
static int sum_chunk(mr_dist *d, void *buf, int n, size_t esz, MPI_Datatype t, int is_double, mr_err *e)
{
    int K = d->size, r = d->rank;
    int *sc = malloc(sizeof(int) * 4 * (size_t)K);
    if (!sc) return mr_errf(e, MR_ENOMEM, "gradient sum: out of memory");
    int *sd = sc + K, *rc = sd + K, *rd = rc + K;
    for (int j = 0; j < K; j++) {
        int lo = (int)((long long)n * j / K), hi = (int)((long long)n * (j + 1) / K);
        sc[j] = hi - lo;
        sd[j] = lo;
    }
    int mine = sc[r];
    for (int j = 0; j < K; j++) { rc[j] = mine; rd[j] = j * mine; }
    int st = grow(d, esz * (size_t)K * (size_t)(mine ? mine : 1), e);
    if (st) { free(sc); return st; }
    if (MPI_Alltoallv(buf, sc, sd, t, d->scratch, rc, rd, t, MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(sc);
        return mr_errf(e, MR_EIO, "gradient sum: MPI_Alltoallv failed");
    }
    /* rank order, element by element */
    if (is_double) {
        double *out = (double *)buf + sd[r];
        const double *s = d->scratch;
        for (int i = 0; i < mine; i++) {
            double v = s[i];
            for (int k = 1; k < K; k++) v += s[(size_t)k * mine + i];
            out[i] = v;
        }
    } else {
        float *out = (float *)buf + sd[r];
        const float *s = d->scratch;
        for (int i = 0; i < mine; i++) {
            float v = s[i];
            for (int k = 1; k < K; k++) v += s[(size_t)k * mine + i];
            out[i] = v;
        }
    }
    int ok = MPI_Allgatherv(MPI_IN_PLACE, 0, t, buf, sc, sd, t, MPI_COMM_WORLD) == MPI_SUCCESS;
    free(sc);
    return ok ? MR_OK : mr_errf(e, MR_EIO, "gradient sum: MPI_Allgatherv failed");
}

static int sum_any(mr_dist *d, void *buf, size_t n, size_t esz, MPI_Datatype t, int is_double, mr_err *e)
{
    if (!d || d->size <= 1 || n == 0) return MR_OK;
    double t0 = MPI_Wtime();
    const size_t CH = (size_t)1 << 26;   /* 64 Mi elements a chunk: every count fits an int */
    for (size_t off = 0; off < n; off += CH) {
        size_t m = n - off < CH ? n - off : CH;
        int rc = sum_chunk(d, (char *)buf + off * esz, (int)m, esz, t, is_double, e);
        if (rc) return rc;
    }
    if (!is_double) {
        d->sum_sec += MPI_Wtime() - t0;
        d->sum_calls++;
    }
    return MR_OK;
}

int mr_dist_sum_f32(mr_dist *d, float *buf, size_t n, mr_err *e)
{
    return sum_any(d, buf, n, sizeof(float), MPI_FLOAT, 0, e);
}

int mr_dist_sum_f64(mr_dist *d, double *buf, size_t n, mr_err *e)
{
    return sum_any(d, buf, n, sizeof(double), MPI_DOUBLE, 1, e);
}

int mr_dist_allgather_i32(mr_dist *d, const int32_t *mine, int n, int32_t *all, mr_err *e)
{
    if (!d || d->size <= 1) {
        if (n > 0 && all != mine) memmove(all, mine, sizeof(int32_t) * (size_t)n);
        return MR_OK;
    }
    if (MPI_Allgather(mine, n, MPI_INT32_T, all, n, MPI_INT32_T, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mr_errf(e, MR_EIO, "MPI_Allgather failed");
    return MR_OK;
}

int mr_dist_bcast(mr_dist *d, void *buf, size_t bytes, int root, mr_err *e)
{
    if (!d || d->size <= 1) return root == 0 ? MR_OK : mr_errf(e, MR_EINTERNAL, "broadcast from rank %d of 1", root);
    for (size_t off = 0; off < bytes; off += (size_t)1 << 30) {
        size_t m = bytes - off < ((size_t)1 << 30) ? bytes - off : (size_t)1 << 30;
        if (MPI_Bcast((char *)buf + off, (int)m, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return mr_errf(e, MR_EIO, "MPI_Bcast failed");
    }
    return MR_OK;
}

int mr_dist_barrier(mr_dist *d, mr_err *e)
{
    if (!d || d->size <= 1) return MR_OK;
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? MR_OK : mr_errf(e, MR_EIO, "MPI_Barrier failed");
}

int mr_dist_agree(mr_dist *d, int rc, mr_err *e)
{
    if (!d || d->size <= 1) return rc;
    int32_t mine = rc, *all = malloc(sizeof(int32_t) * (size_t)d->size);
    if (!all) mr_dist_abort(d, 1);   /* cannot even agree: end the job */
    mr_err tmp;
    int st = mr_dist_allgather_i32(d, &mine, 1, all, &tmp);
    if (st) { free(all); if (e) *e = tmp; return st; }
    int f = -1;
    for (int r = 0; r < d->size && f < 0; r++)
        if (all[r] != MR_OK) f = r;
    if (f < 0) { free(all); return MR_OK; }
    d->agreed = 1;
    int code = all[f];
    free(all);
    char msg[sizeof tmp.msg];
    memset(msg, 0, sizeof msg);
    if (d->rank == f && e) snprintf(msg, sizeof msg, "%s", e->msg);
    if ((st = mr_dist_bcast(d, msg, sizeof msg, f, &tmp))) { if (e) *e = tmp; return st; }
    if (e) {
        e->code = code;
        if (f > 0) snprintf(e->msg, sizeof e->msg, "rank %d of %d: %.900s", f, d->size, msg);
        else snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    return code;
}

void mr_dist_abort(mr_dist *d, int code)
{
    if (d && d->mpi && d->size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    exit(code);
}
