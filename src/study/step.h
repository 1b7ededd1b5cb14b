/* One step of a study that is an `xgd` command line: the study runner builds the argument list,
 * records it in provenance.json, and runs exactly that command (the running xgd binary, in a
 * child process), so "each step is runnable alone with the same result" holds by construction.
 *
 * A step owns an output folder. After a successful run it holds DIR/.xgd-step: the commands and
 * the fingerprints of its inputs (JSON; the name has no .json suffix, so that commands reading a
 * folder's *.json never see it). The next run compares: same commands and inputs -> complete
 * (skipped); folder without that file -> interrupted: redone from an empty folder, or, for a
 * resumable step (its commands resume their own files: generate, score, dpo), run again in place;
 * other commands or an input whose fingerprint changed -> stale (redone from an empty folder). An
 * input that does not exist yet (an earlier step has not run) makes a dry run say so. The
 * children's stdout and stderr go to DIR/.xgd-step.log. */
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
    const char *const *const *cmds;   /* commands after "xgd", run in order: {"metrics", "diversity", ..., NULL} */
    int ncmd;
    const char *const *inputs;        /* files or folders that decide staleness, NULL-terminated */
    long long seed;                   /* recorded; -1: the step draws no random numbers */
    int resumable;                    /* an interrupted run continues in place */
} xgd_step;

/* A command under construction: owned copies, NULL-terminated. */
typedef struct { char *v[64]; int n; } xgd_argv;
void xgd_argv_add(xgd_argv *a, const char *s);
void xgd_argv_opt(xgd_argv *a, const char *flag, const char *val);
/* For each key of the comma-separated list that o holds: --key VALUE (a string or a number), or
 * --key alone for true. The study's keys are the commands' flag names; an absent key leaves the
 * command's default. */
void xgd_argv_keys(xgd_argv *a, const json_t *o, const char *keys);
/* --seed with o[key] (def when absent), always passed so the record names it; returns the seed. */
long long xgd_argv_seed(xgd_argv *a, const json_t *o, const char *key, long long def);
void xgd_argv_free(xgd_argv *a);

/* A step's inputs (owned copies, NULL-terminated): produced files always count (missing = not
 * made yet); a model or tokenizer counts when it is a local path or a hub id found in the local
 * Hugging Face cache (its snapshot folder: another revision is another input). */
typedef struct { char *v[16]; int n; } xgd_inputs;
void xgd_inputs_add(xgd_inputs *in, const char *path);
void xgd_inputs_local(xgd_inputs *in, const char *model_or_path);
void xgd_inputs_free(xgd_inputs *in);

/* A one-command step (not resumable): xgd_step_run, then the command and inputs are freed. */
int xgd_step_cmd(xgd_steps *s, const char *name, const char *dir, xgd_argv *cmd, xgd_inputs *in, long long seed);

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
