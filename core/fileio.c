/*
 * fileio.c — whole-file reads, atomic writes, mkdir -p (see fileio.h).
 */
#include "core/fileio.h"
#include "core/bigmem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *mr_open_regular(const char *path, const char *what, mr_err *e)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        mr_errf(e, MR_EIO, "%s%s%s: cannot open: %s", what, *what ? " " : "", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mr_errf(e, MR_EIO, "%s%s%s: cannot stat: %s", what, *what ? " " : "", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        mr_errf(e, MR_EIO, "%s%s%s: not a regular file (%s)", what, *what ? " " : "", path,
                S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory"
                : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode) ? "a socket"
                : "not a plain file");
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        mr_errf(e, MR_EIO, "%s%s%s: cannot open: %s", what, *what ? " " : "", path, strerror(errno));
        close(fd);
    }
    return f;
}

/* the file with pad zero bytes after its contents, in a core/bigmem.h
 * buffer (huge pages from 1 MB); free with free() */
static int mr_read_file_padded(const char *path, size_t pad, char **buf, size_t *len, mr_err *e)
{
    *buf = NULL;
    if (len) *len = 0;
    FILE *f = mr_open_regular(path, "", e);
    if (!f) return e ? e->code : MR_EIO;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return mr_errf(e, MR_EIO, "%s: cannot stat: %s", path, strerror(errno));
    }
    size_t n = (size_t)st.st_size;
    char *b = mr_big_alloc(n + pad);
    if (!b) { fclose(f); return mr_errf(e, MR_ENOMEM, "%s: out of memory reading %zu bytes", path, n); }
    size_t got = fread(b, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        free(b);
        return mr_errf(e, MR_EIO, "%s: read failed (%zu of %zu bytes)", path, got, n);
    }
    memset(b + n, 0, pad);
    *buf = b;
    if (len) *len = n;
    return MR_OK;
}

int mr_read_file(const char *path, char **buf, size_t *len, mr_err *e)
{
    return mr_read_file_padded(path, 1, buf, len, e);
}

int mr_atomic_open(mr_atomic_file *af, const char *path, mr_err *e)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return mr_errf(e, MR_EUSER, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int err = errno;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash == dir) slash[1] = 0;
        else if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
        struct stat st;
        const char *why = "";
        if (stat(dir, &st) != 0) why = " does not exist";
        else if (!S_ISDIR(st.st_mode)) why = " is not a directory";
        else if (err == EACCES || err == EROFS) why = " is not writable";
        return mr_errf(e, MR_EIO, "%s: cannot create (temporary %s): %s (directory %s%s)", path, af->tmp,
                       strerror(err), dir, why);
    }
    return MR_OK;
}

int mr_atomic_commit(mr_atomic_file *af, mr_err *e)
{
    if (!af->f) return mr_errf(e, MR_EINTERNAL, "%s: not open", af->path);
    int bad = ferror(af->f) || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    int saved = errno;
    if (fclose(af->f) != 0) bad = 1;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return mr_errf(e, MR_EIO, "%s: write failed: %s", af->path, strerror(saved));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        unlink(af->tmp);
        return mr_errf(e, MR_EIO, "%s: cannot rename into place: %s", af->path, strerror(saved));
    }
    return MR_OK;
}

void mr_atomic_abort(mr_atomic_file *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}

int mr_write_file_atomic(const char *path, const void *data, size_t len, mr_err *e)
{
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    if (len && fwrite(data, 1, len, af.f) != len) {
        mr_atomic_abort(&af);
        return mr_errf(e, MR_EIO, "%s: write failed", path);
    }
    return mr_atomic_commit(&af, e);
}

int mr_mkdir_p(const char *dir, mr_err *e)
{
    char buf[4096];
    if (!dir[0]) return mr_errf(e, MR_EUSER, "empty directory name");
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return mr_errf(e, MR_EUSER, "%s: path too long", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return mr_errf(e, MR_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
                return mr_errf(e, MR_EIO, "%s: exists and is not a directory", buf);
            *p = c;
            if (!c) break;
        }
    }
    return MR_OK;
}

int mr_mkdir_p_new(const char *dir, char *created, size_t n, mr_err *e)
{
    if (n) created[0] = 0;
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return mr_mkdir_p(dir, e);
    /* the topmost missing directory of the path: what mkdir -p will make */
    size_t l = strlen(buf);
    while (l > 1 && buf[l - 1] == '/') buf[--l] = 0;
    struct stat st;
    if (buf[0] && stat(buf, &st) != 0 && errno == ENOENT) {
        char top[4096];
        snprintf(top, sizeof top, "%s", buf);
        for (;;) {
            char *slash = strrchr(buf, '/');
            if (!slash || slash == buf) break;
            *slash = 0;
            if (!buf[0] || stat(buf, &st) == 0 || errno != ENOENT) break;
            snprintf(top, sizeof top, "%s", buf);
        }
        if (n) snprintf(created, n, "%s", top);
    }
    int rc = mr_mkdir_p(dir, e);
    if (rc && n) created[0] = 0;
    return rc;
}

int mr_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    int bad = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[4400];
        if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub) { bad = 1; continue; }
        if (mr_remove_tree(sub)) bad = 1;
    }
    closedir(d);
    if (rmdir(path)) bad = 1;
    return bad ? -1 : 0;
}

int mr_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

void mr_path_for_record(const char *path, char *out, size_t n)
{
    char cwd[4096];
    snprintf(out, n, "%s", path);
    if (path[0] != '/' || !getcwd(cwd, sizeof cwd)) return;
    size_t l = strlen(cwd);
    if (l > 1 && !strncmp(path, cwd, l) && path[l] == '/') snprintf(out, n, "%s", path + l + 1);
}

/* "NAME.tmp.PID" -> PID (> 0), else 0 */
static long tmp_pid(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t) return 0;
    const char *q = t + 5;
    while (strstr(q, ".tmp.")) { t = strstr(q, ".tmp."); q = t + 5; }
    if (!*q) return 0;
    long pid = 0;
    for (; *q; q++) {
        if (*q < '0' || *q > '9' || pid > 100000000) return 0;
        pid = pid * 10 + (*q - '0');
    }
    return pid;
}

int mr_clean_stale_tmp(const char *dir, int *removed)
{
    if (removed) *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return MR_OK;
    struct dirent *de;
    char p[8192];
    while ((de = readdir(d))) {
        long pid = tmp_pid(de->d_name);
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM) continue;  /* its writer is alive */
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (unlink(p) == 0 && removed) (*removed)++;
    }
    closedir(d);
    return MR_OK;
}

void mr_fault_point(const char *name)
{
    const char *at = getenv("MRCNN_FAULT_AT");
    if (at && !strcmp(at, name)) raise(SIGKILL);
}
