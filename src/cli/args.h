/* Command-line options shared by every command: a table of flags, each with its help text, so
 * that `xgd CMD --help` documents every flag. Flags are written --like_this or --like-this
 * (the seed pipeline uses underscores), with the value as the next word or after '='. */
#ifndef XGD_CLI_ARGS_H
#define XGD_CLI_ARGS_H

typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_FLAG } opt_kind;

typedef struct {
    const char *name;   /* without dashes, underscores as the canonical spelling */
    opt_kind kind;
    void *dest;         /* const char **, long *, double *, int * */
    const char *meta;   /* e.g. "DIR"; NULL for flags */
    const char *help;
} opt_spec;

typedef struct {
    const char *name;      /* "forward" */
    const char *usage;     /* "xgd forward --model MODEL (--ids 1,2,3 | --text TEXT) [options]" */
    const char *summary;   /* one paragraph */
    const opt_spec *opts;  /* terminated by {0} */
    int npos_min, npos_max;/* positional arguments accepted */
} cmd_spec;

/* Parse argv[1..] against spec (argv[0] is the command name). Positional arguments are returned
 * in pos (up to npos_max). Returns 0 ok, 1 when --help was printed, -1 on error (printed). */
int args_parse(const cmd_spec *spec, int argc, char **argv, const char **pos, int *npos);
void args_help(const cmd_spec *spec);
/* Require a string option; prints an error naming the flag when missing. */
int args_require(const cmd_spec *spec, const char *name, const char *value);
/* Print "xgd: error: <message>" for the current library error and return 1. */
int cli_error(void);

#endif
