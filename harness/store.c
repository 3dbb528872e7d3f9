/*
 * store.c — the append-only results store (see store.h).
 */
#include "harness/store.h"
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int mr_store_append(const char *path, const cJSON *rec, mr_err *e)
{
    int rc = mr_record_validate(rec, "record to append", e);
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
    if ((rc = make_parent(path, e))) { free(line); return rc; }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(line);
        return mr_errf(e, MR_EIO, "%s: cannot open the store for appending: %s", path, strerror(errno));
    }
    /* one write: O_APPEND makes it land whole at the end, even with other
     * processes appending at the same time */
    ssize_t w = write(fd, line, n + 1);
    int err = errno;
    free(line);
    if (w != (ssize_t)(n + 1)) {
        close(fd);
        return mr_errf(e, MR_EIO, "%s: short write to the store (%zd of %zu bytes): %s", path, w,
                       n + 1, w < 0 ? strerror(err) : "disk full?");
    }
    if (fsync(fd) != 0) {
        err = errno;
        close(fd);
        return mr_errf(e, MR_EIO, "%s: fsync failed: %s", path, strerror(err));
    }
    if (close(fd) != 0) return mr_errf(e, MR_EIO, "%s: close failed: %s", path, strerror(errno));
    return MR_OK;
}

void mr_store_free(mr_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) cJSON_Delete(s->rec[i]);
    free(s->rec);
    free(s->line);
    memset(s, 0, sizeof *s);
}

int mr_store_load(const char *path, mr_store *s, mr_err *e)
{
    memset(s, 0, sizeof *s);
    char *buf;
    size_t len;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    int cap = 0, lineno = 0;
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
            rc = mr_errf(e, MR_EUSER, "%s: empty line (every line must be one JSON record)", where);
            goto fail;
        }
        const char *perr = NULL;
        cJSON *r = cJSON_ParseWithOpts(p, &perr, 1);
        if (!r) {
            long col = perr ? (long)(perr - p) + 1 : 0;
            rc = mr_errf(e, MR_EUSER, "%s: not valid JSON (near column %ld)%s", where, col,
                         nl ? "" : "; the last line has no newline: a torn append?");
            goto fail;
        }
        if ((rc = mr_record_validate(r, where, e))) { cJSON_Delete(r); goto fail; }
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
    free(buf);
    return MR_OK;
fail:
    free(buf);
    mr_store_free(s);
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
