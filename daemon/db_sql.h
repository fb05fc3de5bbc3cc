/*
 * db_sql.h — the SQL text of db/schema.sql and db/migrations/NNNN_name.sql, embedded at build time
 * (mk/db.mk generates build/gen/db_sql.c). Only store.c reads it.
 */
#ifndef MICROT_DB_SQL_H
#define MICROT_DB_SQL_H

typedef struct {
    unsigned version;     /* NNNN of the file name; migration k takes the schema from k-1 to k */
    const char *name;     /* file name without .sql, for error messages */
    const char *sql;      /* NUL-terminated statements */
} db_sql_migration_t;

extern const char *const db_sql_schema;           /* the whole schema at the newest version */
extern const db_sql_migration_t db_sql_migrations[]; /* in order, versions 1..count */
extern const unsigned db_sql_migrations_count;    /* = the newest schema version */

#endif /* MICROT_DB_SQL_H */
