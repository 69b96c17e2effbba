/* config-target.h - [target NAME] sections (private to config.c). */
#ifndef GATEHOUSE_DAEMON_CONFIG_TARGET_H
#define GATEHOUSE_DAEMON_CONFIG_TARGET_H

#include <stddef.h>
#include <stdio.h>

#include "gatehouse/target.h"

/* Sections named "target NAME" describe targets. */
#define GH_TARGET_SECTION "target "

struct gh_target_parse;

struct gh_target_parse *gh_target_parse_new(void);
void gh_target_parse_free(struct gh_target_parse *tp);

/* One key of section "target NAME" at line; why says what is wrong. */
int gh_target_parse_key(struct gh_target_parse *tp, const char *section,
                        const char *key, const char *value, int line, char *why,
                        size_t whylen);

/* A key of another section was read: a later "target NAME" section with a
 * known NAME is then a second definition. */
void gh_target_parse_note_section(struct gh_target_parse *tp,
                                  const char *section);

/* Check required keys; hand the targets over (*out, *n; the parse keeps
 * nothing). */
int gh_target_parse_finish(struct gh_target_parse *tp, const char *file,
                           char *err, size_t errlen, struct gh_target ***out,
                           size_t *n);

void gh_targets_free(struct gh_target **v, size_t n);
void gh_targets_dump(struct gh_target *const *v, size_t n, FILE *f);
/* The target called name, or NULL. */
const struct gh_target *gh_targets_find(struct gh_target *const *v, size_t n,
                                        const char *name);

#endif
