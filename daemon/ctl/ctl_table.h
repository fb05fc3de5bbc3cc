/*
 * ctl_table.h — aligned text tables for microtctl's human output.
 * Cells are copied; widths are computed when printed, so columns always line up. Bounded:
 * CTL_TABLE_MAX_COLS columns, cells cut at CTL_TABLE_MAX_CELL characters.
 */
#ifndef MICROT_CTL_TABLE_H
#define MICROT_CTL_TABLE_H

#include <stdio.h>

#define CTL_TABLE_MAX_COLS 12
#define CTL_TABLE_MAX_CELL 80

typedef struct ctl_table ctl_table_t;

/* A table with the given column headers (n_cols <= CTL_TABLE_MAX_COLS); NULL on bad input or
 * no memory. */
ctl_table_t *ctl_table_new(const char *const headers[], unsigned n_cols);
/* Adds a row of n_cols cells (NULL cell = "-"); a negative mt_err_t on failure. */
int ctl_table_add(ctl_table_t *t, const char *const cells[]);
/* Prints header and rows, columns separated by two spaces, the last column unpadded. */
void ctl_table_print(const ctl_table_t *t, FILE *out);
void ctl_table_free(ctl_table_t *t);

#endif /* MICROT_CTL_TABLE_H */
