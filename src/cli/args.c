#include "cli/args.h"
#include "base/err.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "max-tokens" and "max_tokens" name the same flag. */
static int same_name(const char *flag, size_t n, const char *name) {
    if (strlen(name) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char a = flag[i] == '-' ? '_' : flag[i], b = name[i] == '-' ? '_' : name[i];
        if (a != b) return 0;
    }
    return 1;
}

void args_help(const cmd_spec *spec) {
    printf("usage: %s\n\n%s\n", spec->usage, spec->summary);
    if (spec->opts && spec->opts[0].name) printf("\noptions:\n");
    for (const opt_spec *o = spec->opts; o && o->name; o++) {
        char left[96];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        printf("  %-30s %s\n", left, o->help);
    }
    printf("  %-30s %s\n", "--help", "print this help and exit");
}

int args_parse(const cmd_spec *spec, int argc, char **argv, const char **pos, int *npos) {
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { args_help(spec); return 1; }
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*npos >= spec->npos_max) {
                fprintf(stderr, "xgd %s: error: unexpected argument '%s' (see xgd %s --help)\n", spec->name, a, spec->name);
                return -1;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const opt_spec *o = spec->opts;
        while (o && o->name && !same_name(name, n, o->name)) o++;
        if (!o || !o->name) {
            fprintf(stderr, "xgd %s: error: unknown option '--%.*s' (see xgd %s --help)\n", spec->name, (int)n, name, spec->name);
            return -1;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) { fprintf(stderr, "xgd %s: error: --%s takes no value\n", spec->name, o->name); return -1; }
            *(int *)o->dest = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) { fprintf(stderr, "xgd %s: error: --%s needs a value (%s)\n", spec->name, o->name, o->meta ? o->meta : "VALUE"); return -1; }
        char *end;
        errno = 0;
        switch (o->kind) {
        case OPT_STR: *(const char **)o->dest = val; break;
        case OPT_INT:
            *(long *)o->dest = strtol(val, &end, 10);
            if (*end || end == val || errno) { fprintf(stderr, "xgd %s: error: --%s expects an integer, got '%s'\n", spec->name, o->name, val); return -1; }
            break;
        case OPT_FLOAT:
            *(double *)o->dest = strtod(val, &end);
            if (*end || end == val || errno) { fprintf(stderr, "xgd %s: error: --%s expects a number, got '%s'\n", spec->name, o->name, val); return -1; }
            break;
        default: break;
        }
    }
    if (*npos < spec->npos_min) {
        fprintf(stderr, "xgd %s: error: missing argument\nusage: %s\n", spec->name, spec->usage);
        return -1;
    }
    return 0;
}

int args_require(const cmd_spec *spec, const char *name, const char *value) {
    if (value && *value) return 0;
    fprintf(stderr, "xgd %s: error: --%s is required\nusage: %s\n", spec->name, name, spec->usage);
    return -1;
}

int cli_error(void) {
    fprintf(stderr, "xgd: error: %s\n", xgd_errmsg());
    return 1;
}
