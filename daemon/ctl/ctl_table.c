/* ctl_table.c — see ctl_table.h. Rows grow by doubling; each cell is a fixed-size slot. */
#include "ctl_table.h"

#include <stdlib.h>
#include <string.h>

#include "mt_err.h"

typedef char ctl_cell_t[CTL_TABLE_MAX_CELL + 1];

struct ctl_table {
    unsigned n_cols;
    size_t n_rows, cap_rows;   /* row 0 is the header */
    ctl_cell_t *cells;         /* n_rows * n_cols */
};

static int ctl_table_push(ctl_table_t *t, const char *const cells[])
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 16;
        ctl_cell_t *c = realloc(t->cells, cap * t->n_cols * sizeof *c);
        if (c == NULL)
            return MT_ENOMEM;
        t->cells = c;
        t->cap_rows = cap;
    }
    for (unsigned i = 0; i < t->n_cols; i++)
        snprintf(t->cells[t->n_rows * t->n_cols + i], sizeof(ctl_cell_t), "%s",
                 cells[i] ? cells[i] : "-");
    t->n_rows++;
    return 0;
}

ctl_table_t *ctl_table_new(const char *const headers[], unsigned n_cols)
{
    if (headers == NULL || n_cols == 0 || n_cols > CTL_TABLE_MAX_COLS)
        return NULL;
    ctl_table_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->n_cols = n_cols;
    if (ctl_table_push(t, headers) < 0) {
        ctl_table_free(t);
        return NULL;
    }
    return t;
}

int ctl_table_add(ctl_table_t *t, const char *const cells[])
{
    if (t == NULL || cells == NULL)
        return MT_EINVAL;
    return ctl_table_push(t, cells);
}

void ctl_table_print(const ctl_table_t *t, FILE *out)
{
    size_t width[CTL_TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->n_rows; r++)
        for (unsigned c = 0; c < t->n_cols; c++) {
            size_t w = strlen(t->cells[r * t->n_cols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        for (unsigned c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            if (c + 1 < t->n_cols)
                fprintf(out, "%-*s  ", (int)width[c], cell);
            else
                fprintf(out, "%s\n", cell);
        }
    }
}

void ctl_table_free(ctl_table_t *t)
{
    if (t == NULL)
        return;
    free(t->cells);
    free(t);
}
