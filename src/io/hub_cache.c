/* Model arguments: a local path, or a hub id "org/name[@revision]" found offline in the Hugging
 * Face cache layout that huggingface_hub writes:
 *   <cache>/models--org--name/refs/<revision>   (a file holding a commit hash)
 *   <cache>/models--org--name/snapshots/<hash>/ (the files)
 * A revision that is itself a commit hash may name the snapshot folder directly. The cache roots
 * are tried in huggingface_hub's order of precedence, and all of them (not only the first that
 * is set), so a cache pointed to by one variable is still found when another is set too:
 * $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
 * ~/.cache/huggingface/hub. Nothing is downloaded. */
#include "io/checkpoint.h"
#include "base/err.h"
#include "base/fs.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROOTS 5

/* The candidate cache roots, de-duplicated, as malloc'ed strings. */
static size_t cache_roots(char **roots) {
    size_t n = 0;
    const char *hub = getenv("HF_HUB_CACHE"), *legacy = getenv("HUGGINGFACE_HUB_CACHE"), *home = getenv("HF_HOME"),
               *xdg = getenv("XDG_CACHE_HOME"), *user = getenv("HOME");
    char buf[4096];
    const char *cand[MAX_ROOTS] = {0};
    char *made[MAX_ROOTS] = {0};
    if (hub && *hub) cand[0] = hub;
    if (legacy && *legacy) cand[1] = legacy;
    if (home && *home) { snprintf(buf, sizeof buf, "%s/hub", home); cand[2] = made[2] = xgd_strdup(buf); }
    if (xdg && *xdg) { snprintf(buf, sizeof buf, "%s/huggingface/hub", xdg); cand[3] = made[3] = xgd_strdup(buf); }
    if (user && *user) { snprintf(buf, sizeof buf, "%s/.cache/huggingface/hub", user); cand[4] = made[4] = xgd_strdup(buf); }
    for (size_t i = 0; i < MAX_ROOTS; i++) {
        if (!cand[i]) continue;
        int dup = 0;
        for (size_t k = 0; k < n; k++) dup |= strcmp(roots[k], cand[i]) == 0;
        if (!dup) roots[n++] = xgd_strdup(cand[i]);
    }
    for (size_t i = 0; i < MAX_ROOTS; i++) free(made[i]);
    return n;
}

/* "org/name" or "name": letters, digits, '-', '_', '.'; no "..", at most one '/'. */
static int valid_repo_id(const char *id) {
    int slashes = 0;
    if (!*id || strstr(id, "..") || id[0] == '/' || id[strlen(id) - 1] == '/') return 0;
    for (const char *p = id; *p; p++) {
        if (*p == '/') { slashes++; continue; }
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    }
    return slashes <= 1;
}

static int is_commit_hash(const char *s) {
    if (strlen(s) != 40) return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Append "place (why)" to the list of places looked at. */
static void note(char *log, size_t cap, const char *place, const char *why) {
    size_t n = strlen(log);
    snprintf(log + n, cap - n, "%s%s (%s)", n ? "; " : "", place, why);
}

/* Look for the snapshot in one cache root; returns a malloc'ed folder or NULL. */
static char *try_root(const char *root, const char *repo_dir, const char *rev, char *log, size_t cap) {
    char *repo = xgd_path_join(root, repo_dir), *found = NULL, ref_path[4096], snap[4096];
    if (!xgd_is_dir(repo)) { note(log, cap, repo, "missing"); free(repo); return NULL; }
    snprintf(ref_path, sizeof ref_path, "%s/refs/%s", repo, rev);
    char *hash = NULL;
    size_t len = 0;
    if (xgd_is_file(ref_path) && xgd_read_file(ref_path, &hash, &len) == 0) {
        while (len && isspace((unsigned char)hash[len - 1])) hash[--len] = 0;
        snprintf(snap, sizeof snap, "%s/snapshots/%s", repo, hash);
        if (xgd_is_dir(snap) && hash[0] && !strchr(hash, '/')) found = xgd_strdup(snap);
        else note(log, cap, snap, "ref points to a missing snapshot");
        free(hash);
    } else if (is_commit_hash(rev)) {
        snprintf(snap, sizeof snap, "%s/snapshots/%s", repo, rev);
        if (xgd_is_dir(snap)) found = xgd_strdup(snap);
        else note(log, cap, snap, "missing");
    } else {
        note(log, cap, ref_path, "missing");
    }
    free(repo);
    return found;
}

char *xgd_resolve_model(const char *arg) {
    if (!arg || !*arg) { xgd_fail("empty model argument"); return NULL; }
    if (xgd_is_dir(arg) || xgd_is_file(arg)) return xgd_strdup(arg);
    char id[1024];
    if (strlen(arg) >= sizeof id) { xgd_fail("%s: no such folder, and too long for a hub id", arg); return NULL; }
    strcpy(id, arg);
    char *at = strchr(id, '@');
    const char *rev = "main";
    if (at) { *at = 0; rev = at + 1; }
    if (!valid_repo_id(id) || !*rev || strstr(rev, "..") || rev[0] == '/') {
        xgd_fail("%s: no such file or folder (and not a hub id of the form org/name[@revision])", arg);
        return NULL;
    }
    char repo_dir[1100] = "models--", *w = repo_dir + strlen(repo_dir);
    for (const char *p = id; *p; p++) {
        if (*p == '/') { *w++ = '-'; *w++ = '-'; } else *w++ = *p;
    }
    *w = 0;
    char *roots[MAX_ROOTS], log[8192] = "";
    size_t nr = cache_roots(roots);
    char *found = NULL;
    for (size_t i = 0; i < nr; i++) {
        if (!found) found = try_root(roots[i], repo_dir, rev, log, sizeof log);
        free(roots[i]);
    }
    if (!found) {
        if (nr == 0) note(log, sizeof log, "Hugging Face cache", "HF_HUB_CACHE, HF_HOME and HOME are all unset");
        xgd_fail("model '%s' not found: no such local path, and not in the Hugging Face cache; looked in: %s", arg, log);
    }
    return found;
}
