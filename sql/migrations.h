/* migrations.h - the schema migrations embedded from sql/NNN_name.sql at build time. */
#ifndef BW_MIGRATIONS_H
#define BW_MIGRATIONS_H

struct migration {
    int version; /* NNN of the file name */
    const char *name; /* file name */
    const char *sql; /* statements separated by ';' at line end */
};

/* Ordered by version; the last entry has version 0. */
extern const struct migration sql_migrations[];

#endif
