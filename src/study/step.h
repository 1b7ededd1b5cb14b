/* One step of a study that is an `xgd` command line: the study runner builds the argument list,
 * records it in provenance.json, and runs exactly that command (the running xgd binary, in a
 * child process), so "each step is runnable alone with the same result" holds by construction.
 *
 * A step owns an output folder. After a successful run it holds DIR/.xgd-step.json: the command
 * and the fingerprints of its inputs. The next run compares: same command and inputs -> complete
 * (skipped); folder without that file -> interrupted (redone from scratch); another command or an
 * input whose fingerprint changed -> stale (redone). An input that does not exist yet (an earlier
 * step has not run) makes a dry run say so. The child's stdout and stderr go to DIR/.xgd-step.log. */
#ifndef XGD_STUDY_STEP_H
#define XGD_STUDY_STEP_H
#include <jansson.h>

typedef struct {
    json_t *steps;     /* provenance records, appended in order */
    int dry;
} xgd_steps;

typedef struct {
    const char *name;                 /* "diversity base" */
    const char *dir;                  /* its output folder (cleared before a redo) */
    const char *const *argv;          /* the command after "xgd": {"metrics", "diversity", ..., NULL} */
    const char *const *inputs;        /* files or folders that decide staleness, NULL-terminated */
    long long seed;                   /* recorded; -1: the step draws no random numbers */
} xgd_step;

/* Decide, run (unless dry) and record a step. 0, or -1 with a message naming the step. */
int xgd_step_run(xgd_steps *s, const xgd_step *st);
/* Record a step that is not configured by the study file (state "not configured: <why>"). */
void xgd_step_skip(xgd_steps *s, const char *name, const char *why);
/* Append a record {step, state, seconds, ...extra} and print "<step> <state>". extra is stolen. */
void xgd_step_record(xgd_steps *s, const char *name, const char *state, double seconds, json_t *extra);

/* Fingerprint of a file (FNV-1a 64 of its bytes) or a folder (of its files' relative names and
 * fingerprints, recursively, sorted; files over 256 MiB count by size and modification time so
 * that a model's weights are not read on every run). 16 hex digits; -1 when path is missing. */
int xgd_fingerprint(const char *path, char out[17]);
/* A JSON number as a flag value: integers as integers, reals in the fewest digits that read back
 * exactly ("0.1", not "0.10000000000000001"). */
void xgd_arg_num(char *buf, size_t n, const json_t *v);
/* argv as one shell command line ("xgd" first; arguments quoted where the shell needs it). */
char *xgd_command_line(const char *const *argv);
/* Versions of xgd and of the libraries it links (OpenBLAS, jansson, libcurl, PCRE2, utf8proc). */
json_t *xgd_versions(void);

#endif
