/* CSV files as RFC 4180 writes them (Jigsaw's train.csv): fields separated by commas, a field in
 * double quotes may hold commas, newlines and doubled quotes (""). The first row is the header.
 * Rows end with LF or CRLF; a final row without a line ending is accepted. */
#ifndef XGD_INTERP_CSV_H
#define XGD_INTERP_CSV_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **header;        /* (ncol) */
    int ncol;
    char **cells;         /* (nrow, ncol), row-major, each a NUL-terminated copy */
    int64_t nrow;
    long *line;           /* (nrow) 1-based line where each row starts (for error messages) */
} xgd_csv;

/* Read a whole file. Errors (with path:line): an unterminated quote, a quote inside an unquoted
 * field, a row with another number of fields than the header. Blank lines are skipped. */
int xgd_csv_read(const char *path, xgd_csv *out);
/* Parse text of len bytes (path is only for messages). */
int xgd_csv_parse(const char *text, size_t len, const char *path, xgd_csv *out);
void xgd_csv_free(xgd_csv *c);
/* Column index of a header name, or -1. */
int xgd_csv_col(const xgd_csv *c, const char *name);
static inline const char *xgd_csv_cell(const xgd_csv *c, int64_t row, int col) { return c->cells[row * c->ncol + col]; }

#endif
