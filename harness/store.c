/*
 * store.c — the append-only results store (see store.h).
 */
#include "harness/store.h"
#include "core/fileio.h"
#include "core/json.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int mr_record_validate(const cJSON *rec, const char *where, mr_err *e)
{
    static const char *req[] = MR_RECORD_REQUIRED;
    if (!cJSON_IsObject(rec))
        return mr_errf(e, MR_EUSER, "%s: a record must be a JSON object", where);
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(rec, req[i]))
            return mr_errf(e, MR_EUSER, "%s: record lacks the field \"%s\"", where, req[i]);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "metrics");
    if (!cJSON_IsObject(m))
        return mr_errf(e, MR_EUSER, "%s: field \"metrics\" must be an object", where);
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "commit")))
        return mr_errf(e, MR_EUSER, "%s: field \"commit\" must be a string", where);
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "config_name")))
        return mr_errf(e, MR_EUSER, "%s: field \"config_name\" must be a string", where);
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rec, "seed")))
        return mr_errf(e, MR_EUSER, "%s: field \"seed\" must be a number", where);
    return MR_OK;
}

/* directory part of path, created when missing */
static int make_parent(const char *path, mr_err *e)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return MR_OK;
    *slash = 0;
    return mr_mkdir_p(dir, e);
}

/* ---- run identity ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;   /* a separator after each field */
}

static const char *str_field(const cJSON *rec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

void mr_record_run_id(const cJSON *rec, char out[17])
{
    uint64_t h = 14695981039346656037ull;
    char num[48];
    h = fnv(h, str_field(rec, "config_name"));
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(rec, "seed");
    snprintf(num, sizeof num, "%.17g", cJSON_IsNumber(sd) ? sd->valuedouble : -1.0);
    h = fnv(h, num);
    h = fnv(h, str_field(rec, "commit"));
    h = fnv(h, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "dirty")) ? "1" : "0");
    h = fnv(h, str_field(rec, "run_dir"));
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(rec, "config");
    char *ct = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    h = fnv(h, ct ? ct : "null");
    free(ct);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- the lock ---- */

/* Open path for appending and take its flock. A repair renames a new file
 * over path while we wait for the lock; then the descriptor names the old
 * inode, and we start again on the new one. */
static int open_locked(const char *path, int create, int *fdout, mr_err *e)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
        if (fd < 0)
            return mr_errf(e, MR_EIO, "%s: cannot open the store: %s", path, strerror(errno));
        struct stat a, b;
        if (fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) {
            close(fd);
            return mr_errf(e, MR_EIO, "%s: the store is not a regular file", path);
        }
        int r;
        while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {}
        if (r != 0) {
            int err = errno;
            close(fd);
            return mr_errf(e, MR_EIO, "%s: cannot lock the store: %s", path, strerror(err));
        }
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fdout = fd;
            return MR_OK;
        }
        close(fd);   /* replaced while we waited */
    }
    return mr_errf(e, MR_EIO, "%s: the store keeps being replaced; cannot lock it", path);
}

/* the whole file behind fd */
static int read_fd(int fd, const char *path, char **buf, size_t *len, mr_err *e)
{
    struct stat st;
    *buf = NULL;
    *len = 0;
    if (fstat(fd, &st) != 0) return mr_errf(e, MR_EIO, "%s: cannot stat: %s", path, strerror(errno));
    size_t n = (size_t)st.st_size, got = 0;
    char *b = malloc(n + 1);
    if (!b) return mr_errf(e, MR_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { free(b); return mr_errf(e, MR_EIO, "%s: read failed", path); }
        got += (size_t)r;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return MR_OK;
}

/* A last line without its newline is an append that did not finish (every
 * append writes the record and its newline in one write, under the lock we
 * hold): a complete record gets its newline, anything else is cut off, so
 * the file ends at the previous line. *len is updated; *what says which. */
static int fix_torn_tail(int fd, const char *path, char *buf, size_t *len, int *what, mr_err *e)
{
    *what = 0;
    if (*len == 0 || buf[*len - 1] == '\n') return MR_OK;
    size_t cut = *len;
    while (cut > 0 && buf[cut - 1] != '\n') cut--;
    cJSON *r = cJSON_ParseWithLengthOpts(buf + cut, *len - cut, NULL, 0);
    mr_err e2;
    int whole = r && mr_record_validate(r, path, &e2) == MR_OK && mr_json_check_finite(r, path, &e2) == MR_OK;
    cJSON_Delete(r);
    if (whole) {
        if (write(fd, "\n", 1) != 1 || fsync(fd) != 0)
            return mr_errf(e, MR_EIO, "%s: cannot complete the last line: %s", path, strerror(errno));
        *what = MR_STORE_TAIL_COMPLETED;
        return MR_OK;
    }
    if (ftruncate(fd, (off_t)cut) != 0 || fsync(fd) != 0)
        return mr_errf(e, MR_EIO, "%s: cannot cut the torn last line: %s", path, strerror(errno));
    *len = cut;
    buf[cut] = 0;
    *what = MR_STORE_TAIL_CUT;
    return MR_OK;
}

static int parse_buf(const char *path, char *buf, size_t len, mr_store *s, mr_err *e);

int mr_store_append_ex(const char *path, const cJSON *rec, int *appended, int *tail, mr_err *e)
{
    int dummy_a, dummy_t;
    if (!appended) appended = &dummy_a;
    if (!tail) tail = &dummy_t;
    *appended = 0;
    *tail = 0;
    int rc = mr_record_validate(rec, "record to append", e);
    if (!rc) rc = mr_json_check_finite(rec, "record to append", e);
    if (rc) return rc;
    char *txt = cJSON_PrintUnformatted(rec);
    if (!txt) return mr_errf(e, MR_ENOMEM, "%s: could not serialise the record", path);
    size_t n = strlen(txt);
    if (memchr(txt, '\n', n)) {  /* cJSON escapes newlines in strings; paranoia */
        free(txt);
        return mr_errf(e, MR_EINTERNAL, "%s: serialised record contains a newline", path);
    }
    char *line = malloc(n + 2);
    if (!line) { free(txt); return mr_errf(e, MR_ENOMEM, "%s: out of memory", path); }
    memcpy(line, txt, n);
    line[n] = '\n';
    free(txt);
    char id[17];
    mr_record_run_id(rec, id);
    int fd = -1;
    char *buf = NULL;
    size_t len = 0;
    mr_store st;
    memset(&st, 0, sizeof st);
    if ((rc = make_parent(path, e)) || (rc = open_locked(path, 1, &fd, e))) goto done;
    if ((rc = read_fd(fd, path, &buf, &len, e))) goto done;
    if ((rc = fix_torn_tail(fd, path, buf, &len, tail, e))) goto done;
    if ((rc = parse_buf(path, buf, len, &st, e))) goto done;
    for (int i = 0; i < st.n; i++) {
        char other[17];
        mr_record_run_id(st.rec[i], other);
        if (!strcmp(other, id)) goto done;   /* this run is stored already: nothing to do */
    }
    /* one write: the line lands whole at the end; a short one (disk full) is
     * cut back, so the store is exactly as before */
    off_t old = lseek(fd, 0, SEEK_END);
    if (old < 0) { rc = mr_errf(e, MR_EIO, "%s: cannot seek: %s", path, strerror(errno)); goto done; }
    if (getenv("MRCNN_FAULT_AT") && !strcmp(getenv("MRCNN_FAULT_AT"), "store_torn")) {
        if (write(fd, line, (n + 1) / 2) < 0) {}   /* half a line, then killed */
        mr_fault_point("store_torn");
    }
    ssize_t w = write(fd, line, n + 1);
    int err = errno;
    if (w != (ssize_t)(n + 1) || fsync(fd) != 0) {
        if (w == (ssize_t)(n + 1)) err = errno;
        int cut = ftruncate(fd, old) == 0 && fsync(fd) == 0;
        if (w >= 0 && w != (ssize_t)(n + 1))
            rc = mr_errf(e, MR_EIO, "%s: short write to the store (%zd of %zu bytes): %s; %s", path, w, n + 1,
                         w < 0 || err == 0 ? "disk full?" : strerror(err),
                         cut ? "cut back, the store is unchanged" : "could not cut it back: run mrcnn store check --repair");
        else
            rc = mr_errf(e, MR_EIO, "%s: cannot append the record: %s; %s", path, strerror(err),
                         cut ? "cut back, the store is unchanged" : "could not cut it back: run mrcnn store check --repair");
        goto done;
    }
    *appended = 1;
    mr_fault_point("store_written");
done:
    mr_store_free(&st);
    free(buf);
    free(line);
    if (fd >= 0 && close(fd) != 0 && !rc) rc = mr_errf(e, MR_EIO, "%s: close failed: %s", path, strerror(errno));
    return rc;
}

int mr_store_append(const char *path, const cJSON *rec, mr_err *e)
{
    return mr_store_append_ex(path, rec, NULL, NULL, e);
}

int mr_store_recover(const char *path, int *tail, mr_err *e)
{
    int t = 0;
    if (tail) *tail = 0;
    if (!mr_file_exists(path)) return MR_OK;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    mr_clean_stale_tmp(dir, NULL);
    int fd, rc = open_locked(path, 0, &fd, e);
    if (rc) return rc;
    char *buf;
    size_t len;
    rc = read_fd(fd, path, &buf, &len, e);
    if (!rc) rc = fix_torn_tail(fd, path, buf, &len, &t, e);
    free(buf);
    close(fd);
    if (tail) *tail = t;
    return rc;
}

void mr_store_free(mr_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) cJSON_Delete(s->rec[i]);
    free(s->rec);
    free(s->line);
    memset(s, 0, sizeof *s);
}

/* Parse buf (len bytes, NUL-terminated at len; lines are cut in place),
 * strictly: the first bad line is the error. */
static int parse_buf(const char *path, char *buf, size_t len, mr_store *s, mr_err *e)
{
    memset(s, 0, sizeof *s);
    int rc = MR_OK, cap = 0, lineno = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        *le = 0;
        if (le > p && le[-1] == '\r') le[-1] = 0;
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!*p) {
            rc = mr_errf(e, MR_EUSER, "%s: empty line (every line must be one JSON record); "
                         "mrcnn store check --repair %s removes it", where, path);
            goto fail;
        }
        const char *perr = NULL;
        cJSON *r = cJSON_ParseWithOpts(p, &perr, 1);
        if (!r) {
            long col = perr ? (long)(perr - p) + 1 : 0;
            rc = mr_errf(e, MR_EUSER, "%s: not valid JSON (near column %ld)%s; mrcnn store check --repair %s "
                         "sets it aside", where, col, nl ? "" : "; the last line has no newline: a torn append?", path);
            goto fail;
        }
        if ((rc = mr_record_validate(r, where, e)) || (rc = mr_json_check_finite(r, where, e))) {
            cJSON_Delete(r);
            goto fail;
        }
        if (s->n == cap) {
            cap = cap ? cap * 2 : 64;
            cJSON **nr = realloc(s->rec, (size_t)cap * sizeof *nr);
            if (nr) s->rec = nr;
            int *nlin = realloc(s->line, (size_t)cap * sizeof *nlin);
            if (nlin) s->line = nlin;
            if (!nr || !nlin) {
                cJSON_Delete(r);
                rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", where);
                goto fail;
            }
        }
        s->rec[s->n] = r;
        s->line[s->n] = lineno;
        s->n++;
        p = nl ? nl + 1 : end;
    }
    return MR_OK;
fail:
    mr_store_free(s);
    return rc;
}

int mr_store_load(const char *path, mr_store *s, mr_err *e)
{
    memset(s, 0, sizeof *s);
    char *buf;
    size_t len;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    rc = parse_buf(path, buf, len, s, e);
    free(buf);
    return rc;
}

const cJSON *mr_store_find(const mr_store *s, const char *config_name, long seed)
{
    for (int i = s->n - 1; i >= 0; i--) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(s->rec[i], "config_name");
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(s->rec[i], "seed");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, config_name)) continue;
        if (seed >= 0 && (!cJSON_IsNumber(sd) || (long)sd->valuedouble != seed)) continue;
        return s->rec[i];
    }
    return NULL;
}

/* ---- check and repair ---- */

static void report_add(mr_store_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(mr_store_report *r, const char *fmt, ...)
{
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    size_t add = strlen(line), old = r->text ? strlen(r->text) : 0;
    char *t = realloc(r->text, old + add + 2);
    if (!t) return;
    memcpy(t + old, line, add);
    t[old + add] = '\n';
    t[old + add + 1] = 0;
    r->text = t;
}

void mr_store_report_free(mr_store_report *r)
{
    if (r) free(r->text);
    if (r) memset(r, 0, sizeof *r);
}

/* write all of p, retrying short writes; 0 on success */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct { const char *p; size_t n; } span;

int mr_store_check(const char *path, int repair, mr_store_report *r, mr_err *e)
{
    memset(r, 0, sizeof *r);
    int fd, rc = open_locked(path, 0, &fd, e);
    if (rc) return rc;
    char *buf = NULL, *keep = NULL, *rej = NULL;
    size_t len, nkeep = 0, nrej = 0;
    char (*ids)[17] = NULL;
    int *id_line = NULL, nid = 0;
    if ((rc = read_fd(fd, path, &buf, &len, e))) goto done;
    keep = malloc(len + 2);
    rej = malloc(len + 2);
    ids = malloc((len / 2 + 1) * sizeof *ids);
    id_line = malloc((len / 2 + 1) * sizeof *id_line);
    if (!keep || !rej || !ids || !id_line) { rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path); goto done; }
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        span raw = {p, (size_t)(le - p)};
        int lineno = ++r->lines;
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *q = p;
        size_t qn = raw.n;
        if (qn && q[qn - 1] == '\r') qn--;
        int ok = 0;
        cJSON *rec = NULL;
        mr_err e2;
        if (qn == 0) {
            r->empty++;
            report_add(r, "%s: empty line%s", where, repair ? ": removed" : "");
        } else if (!(rec = cJSON_ParseWithLengthOpts(q, qn, NULL, 0)) ||
                   mr_record_validate(rec, where, &e2) || mr_json_check_finite(rec, where, &e2)) {
            if (!rec) snprintf(e2.msg, sizeof e2.msg, "%.900s: not valid JSON", where);
            if (!nl) {
                r->tail = MR_STORE_TAIL_CUT;
                report_add(r, "%s: torn append (no newline, not a whole record)%s", where,
                           repair ? ": cut, kept in the .rejected file" : "");
            } else {
                r->bad++;
                report_add(r, "%s%s", e2.msg, repair ? " (set aside in the .rejected file)" : "");
            }
        } else {
            char id[17];
            mr_record_run_id(rec, id);
            int dup = -1;
            for (int i = 0; i < nid && dup < 0; i++)
                if (!strcmp(ids[i], id)) dup = id_line[i];
            const cJSON *sd = cJSON_GetObjectItemCaseSensitive(rec, "seed");
            if (dup >= 0) {
                r->duplicates++;
                report_add(r, "%s: a second record of the run on line %d (%s seed %.0f, commit %s, run %s)%s", where,
                           dup, str_field(rec, "config_name"), sd->valuedouble, str_field(rec, "commit"),
                           str_field(rec, "run_dir"), repair ? ": removed, kept in the .rejected file" : "");
            } else {
                ok = 1;
                memcpy(ids[nid], id, 17);
                id_line[nid++] = lineno;
                r->records++;
                if (!nl) {
                    r->tail = MR_STORE_TAIL_COMPLETED;
                    report_add(r, "%s: the last line has no newline (a whole record)%s", where,
                               repair ? ": newline added" : "");
                }
            }
        }
        cJSON_Delete(rec);
        if (ok) { memcpy(keep + nkeep, raw.p, raw.n); nkeep += raw.n; keep[nkeep++] = '\n'; }
        else if (qn) { memcpy(rej + nrej, raw.p, raw.n); nrej += raw.n; rej[nrej++] = '\n'; }
        p = nl ? nl + 1 : end;
    }
    int problems = r->bad + r->empty + r->duplicates + (r->tail != 0);
    report_add(r, "%s: %d line%s, %d record%s of %d run%s; %d bad, %d empty, %d duplicate%s%s", path, r->lines,
               r->lines == 1 ? "" : "s", r->records, r->records == 1 ? "" : "s", nid, nid == 1 ? "" : "s",
               r->bad, r->empty, r->duplicates, r->tail == MR_STORE_TAIL_CUT ? ", a torn last line"
               : r->tail ? ", no final newline" : "", problems ? "" : ": valid");
    if (!repair || !problems) goto done;
    char rpath[4200], tmp[4300];
    if (nrej) {
        snprintf(rpath, sizeof rpath, "%s.rejected", path);
        int rf = open(rpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (rf < 0 || write_all(rf, rej, nrej) || fsync(rf)) {
            rc = mr_errf(e, MR_EIO, "%s: cannot keep the set-aside lines: %s; the store is unchanged", rpath,
                         strerror(errno));
            if (rf >= 0) close(rf);
            goto done;
        }
        close(rf);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int tf = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tf < 0 || write_all(tf, keep, nkeep) || fsync(tf) || close(tf) || rename(tmp, path)) {
        rc = mr_errf(e, MR_EIO, "%s: cannot write the repaired store: %s; the store is unchanged", tmp,
                     strerror(errno));
        if (tf >= 0) { close(tf); unlink(tmp); }
        goto done;
    }
    r->repaired = 1;
    report_add(r, "%s: repaired: %d record%s kept%s%s", path, r->records, r->records == 1 ? "" : "s",
               nrej ? ", set-aside lines appended to " : "", nrej ? rpath : "");
done:
    free(buf);
    free(keep);
    free(rej);
    free(ids);
    free(id_line);
    close(fd);   /* unlocks; appenders waiting on the old file see the new one */
    return rc;
}
