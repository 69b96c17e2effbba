/* migrations.h - the ordered schema changes of the SQLite store (private). */
#ifndef GATEHOUSE_STORE_MIGRATIONS_H
#define GATEHOUSE_STORE_MIGRATIONS_H

#include <stddef.h>

/* Migration i (0-based) takes the schema from version i to i + 1. */
struct gh_migration {
    const char *name;
    const char *sql;
};

extern const struct gh_migration gh_migrations[];
extern const size_t gh_migrations_count;

#endif
