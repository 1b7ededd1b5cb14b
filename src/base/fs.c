#include "base/fs.h"
#include "base/err.h"
#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int xgd_read_file(const char *path, char **data, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return xgd_fail("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xgd_malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xgd_realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) { free(buf); return xgd_fail("%s: read error", path); }
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return 0;
}

int xgd_map_file(const char *path, xgd_mapping *m) {
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return xgd_fail("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return xgd_fail("%s: cannot stat: %s", path, strerror(errno)); }
    if (!S_ISREG(st.st_mode)) { close(fd); return xgd_fail("%s: not a regular file", path); }
    m->size = (size_t)st.st_size;
    if (m->size > 0) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) { close(fd); return xgd_fail("%s: cannot map: %s", path, strerror(errno)); }
        m->data = p;
    }
    close(fd);
    return 0;
}

void xgd_unmap(xgd_mapping *m) {
    if (m->data) munmap(m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int xgd_atomic_open(xgd_atomic_file *af, const char *path) {
    af->path = xgd_strdup(path);
    size_t n = strlen(path) + 32;
    af->tmp = xgd_malloc(n);
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp) {
        int e = errno;
        free(af->path); free(af->tmp);
        af->path = af->tmp = NULL;
        return xgd_fail("%s: cannot create: %s", path, strerror(e));
    }
    return 0;
}

static char *dir_of(const char *path) {
    char *d = xgd_strdup(path), *slash = strrchr(d, '/');
    if (!slash) { free(d); return xgd_strdup("."); }
    if (slash == d) slash[1] = 0; else *slash = 0;
    return d;
}

void xgd_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

int xgd_atomic_commit(xgd_atomic_file *af) {
    int rc = 0;
    if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0 || ferror(af->fp))
        rc = xgd_fail("%s: write failed: %s", af->path, strerror(errno));
    if (fclose(af->fp) != 0 && rc == 0) rc = xgd_fail("%s: close failed: %s", af->path, strerror(errno));
    af->fp = NULL;
    if (rc == 0 && rename(af->tmp, af->path) != 0) rc = xgd_fail("%s: rename failed: %s", af->path, strerror(errno));
    if (rc != 0) unlink(af->tmp);
    else { char *d = dir_of(af->path); xgd_fsync_dir(d); free(d); }
    free(af->path); free(af->tmp);
    af->path = af->tmp = NULL;
    return rc;
}

void xgd_atomic_abort(xgd_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp) unlink(af->tmp);
    free(af->path); free(af->tmp);
    af->fp = NULL;
    af->path = af->tmp = NULL;
}

int xgd_write_file_atomic(const char *path, const void *data, size_t len) {
    xgd_atomic_file af;
    if (xgd_atomic_open(&af, path) != 0) return -1;
    if (len && fwrite(data, 1, len, af.fp) != len) { xgd_atomic_abort(&af); return xgd_fail("%s: write failed", path); }
    return xgd_atomic_commit(&af);
}

int xgd_mkdir_p(const char *path) {
    char *p = xgd_strdup(path);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                free(p);
                return xgd_fail("%s: cannot create folder: %s", path, strerror(e));
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    if (!xgd_is_dir(path)) return xgd_fail("%s: exists and is not a folder", path);
    return 0;
}

int xgd_is_dir(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISDIR(st.st_mode); }
int xgd_is_file(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISREG(st.st_mode); }

char *xgd_path_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = xgd_malloc(na + nb + 2);
    memcpy(p, a, na);
    size_t k = na;
    if (na && a[na - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, nb + 1);
    return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int xgd_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) return xgd_fail("%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int xgd_list_files(const char *dir, const char *const *suffixes, char ***files, size_t *n) {
    *files = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return xgd_fail("%s: cannot read folder: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.') continue;   /* as glob("*.json"): hidden files are not listed */
        for (int k = 0; suffixes[k]; k++) {
            size_t sl = strlen(suffixes[k]);
            if (l > sl && !strcmp(e->d_name + l - sl, suffixes[k])) {
                char *p = xgd_path_join(dir, e->d_name);
                if (!xgd_is_file(p)) { free(p); break; }   /* a folder named x.json is not a file to read */
                *files = xgd_realloc(*files, sizeof(char *) * (*n + 1));
                (*files)[(*n)++] = p;
                break;
            }
        }
    }
    closedir(d);
    if (*n) qsort(*files, *n, sizeof(char *), cmp_path);
    return 0;
}

void xgd_free_files(char **files, size_t n) {
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
}
