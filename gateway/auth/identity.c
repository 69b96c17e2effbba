/* identity.c - a signed-in person: JSON for the API and for storage. */
#include "gatehouse/oidc.h"

#include "gatehouse/mem.h"

#include <stdlib.h>
#include <string.h>

int
gh_group_in_list(const char *list, const char *g)
{
    size_t gl = strlen(g);
    const char *p = list, *e;

    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        e = p;
        while (*e != '\0' && *e != ',')
            e++;
        while (e > p && e[-1] == ' ')
            e--;
        if ((size_t)(e - p) == gl && gl > 0 && memcmp(p, g, gl) == 0)
            return 1;
        p = e;
        while (*p != '\0' && *p != ',')
            p++;
    }
    return 0;
}
int
gh_identity_in_groups(const struct gh_identity *id, const char *list)
{
    size_t i;

    for (i = 0; i < id->ngroups; i++)
        if (gh_group_in_list(list, id->groups[i]))
            return 1;
    return 0;
}

void
gh_identity_free(struct gh_identity *id)
{
    size_t i;

    if (id == NULL)
        return;
    free(id->user_id);
    free(id->iss);
    free(id->sub);
    free(id->name);
    free(id->email);
    for (i = 0; i < id->ngroups; i++)
        free(id->groups[i]);
    free(id->groups);
    free(id);
}

static json_t *
gh_identity_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *
gh_identity_json(const struct gh_identity *id)
{
    json_t *j = json_object(), *groups = json_array(), *roles = json_array();
    size_t i;

    for (i = 0; i < id->ngroups; i++)
        json_array_append_new(groups, json_string(id->groups[i]));
    for (i = 0; i < GH_ROLE_COUNT; i++)
        if (id->roles & (1u << i))
            json_array_append_new(roles,
                                  json_string(gh_role_name((enum gh_role)i)));
    json_object_set_new(j, "user_id", gh_identity_str(id->user_id));
    json_object_set_new(j, "name", gh_identity_str(id->name));
    json_object_set_new(j, "email", gh_identity_str(id->email));
    json_object_set_new(j, "groups", groups);
    json_object_set_new(j, "roles", roles);
    return j;
}

char *
gh_identity_dump(const struct gh_identity *id)
{
    json_t *j = gh_identity_json(id);
    char *s;

    json_object_set_new(j, "iss", gh_identity_str(id->iss));
    json_object_set_new(j, "sub", gh_identity_str(id->sub));
    json_object_set_new(j, "roles_mask", json_integer(id->roles));
    json_object_set_new(j, "expires", json_integer(id->expires));
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static char *
gh_identity_get(json_t *j, const char *name)
{
    return gh_strdup(json_string_value(json_object_get(j, name)));
}

struct gh_identity *
gh_identity_load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL), *groups, *v;
    struct gh_identity *id;
    size_t i;

    if (!json_is_object(j) || !json_is_string(json_object_get(j, "user_id"))) {
        json_decref(j);
        return NULL;
    }
    id = gh_alloc(1, sizeof(*id));
    id->user_id = gh_identity_get(j, "user_id");
    id->iss = gh_identity_get(j, "iss");
    id->sub = gh_identity_get(j, "sub");
    id->name = gh_identity_get(j, "name");
    id->email = gh_identity_get(j, "email");
    id->roles = (unsigned)json_integer_value(json_object_get(j, "roles_mask"));
    id->expires = json_integer_value(json_object_get(j, "expires"));
    groups = json_object_get(j, "groups");
    id->groups = gh_alloc(json_array_size(groups) + 1, sizeof(char *));
    json_array_foreach(groups, i, v)
    {
        if (json_is_string(v))
            id->groups[id->ngroups++] = gh_strdup(json_string_value(v));
    }
    json_decref(j);
    return id;
}
