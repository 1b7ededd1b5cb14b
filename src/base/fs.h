/* Files: whole-file reads, read-only mappings, atomic writes (write a temporary, fsync, rename),
 * folder creation. Every failure names the path. */
#ifndef XGD_BASE_FS_H
#define XGD_BASE_FS_H
#include <stddef.h>
#include <stdio.h>

/* Read a whole file into a NUL-terminated buffer (*len excludes the NUL). */
int xgd_read_file(const char *path, char **data, size_t *len);

/* A read-only view of a file: mmap'ed (or empty for a 0-byte file). */
typedef struct { void *data; size_t size; } xgd_mapping;
int xgd_map_file(const char *path, xgd_mapping *m);
void xgd_unmap(xgd_mapping *m);

/* Atomic write: open PATH.tmp.<pid>, the caller writes to it, commit renames it over PATH after
 * fflush+fsync; abort removes it. A crash leaves either the old file or the new one, never half. */
typedef struct { FILE *fp; char *path, *tmp; } xgd_atomic_file;
int xgd_atomic_open(xgd_atomic_file *af, const char *path);
int xgd_atomic_commit(xgd_atomic_file *af);
void xgd_atomic_abort(xgd_atomic_file *af);
/* Convenience: write a whole buffer atomically. */
int xgd_write_file_atomic(const char *path, const void *data, size_t len);

int xgd_mkdir_p(const char *path);
int xgd_is_dir(const char *path);
int xgd_is_file(const char *path);
/* Join two path parts into a new string ("a" + "b" -> "a/b"). */
char *xgd_path_join(const char *a, const char *b);
/* The regular files of a folder whose names end in one of the NULL-terminated suffixes, hidden
 * ones (".name") left out as a shell glob does, as joined paths, sorted by name (so results never depend on the filesystem's order). Free with xgd_free_files. */
int xgd_list_files(const char *dir, const char *const *suffixes, char ***files, size_t *n);
void xgd_free_files(char **files, size_t n);
/* Remove a file or a folder with everything in it (no error if it does not exist). */
int xgd_remove_tree(const char *path);
/* fsync a folder so a rename inside it is durable. */
void xgd_fsync_dir(const char *dir);

#endif
