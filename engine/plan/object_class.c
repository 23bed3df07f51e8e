/* Object classes by name; see object_class.h. */
#include <string.h>

#include "plan/object_class.h"
#include "plan/plan.h"

static const char *const names[N_OBJECT_CLASSES] = {
	[OBJ_ACCESS_METHODS] = "access_methods",
	[OBJ_CASTS] = "casts",
	[OBJ_EVENT_TRIGGERS] = "event_triggers",
	[OBJ_FOREIGN_DATA_WRAPPERS] = "foreign_data_wrappers",
	[OBJ_LANGUAGES] = "languages",
	[OBJ_PUBLICATIONS] = "publications",
	[OBJ_SERVERS] = "servers",
	[OBJ_TRANSFORMS] = "transforms",
	[OBJ_USER_MAPPINGS] = "user_mappings",
};

static const char *const catalogs[N_OBJECT_CLASSES] = {
	[OBJ_ACCESS_METHODS] = "pg_am",
	[OBJ_CASTS] = "pg_cast",
	[OBJ_EVENT_TRIGGERS] = "pg_event_trigger",
	[OBJ_FOREIGN_DATA_WRAPPERS] = "pg_foreign_data_wrapper",
	[OBJ_LANGUAGES] = "pg_language",
	[OBJ_PUBLICATIONS] = "pg_publication",
	[OBJ_SERVERS] = "pg_foreign_server",
	[OBJ_TRANSFORMS] = "pg_transform",
	[OBJ_USER_MAPPINGS] = "pg_user_mapping",
};

/* The catalog's kinds (catalog_globals.c) of each class. */
static const struct {
	const char *kind;
	enum object_class cls;
} kinds[] = {
	{"access method", OBJ_ACCESS_METHODS},
	{"cast", OBJ_CASTS},
	{"event trigger", OBJ_EVENT_TRIGGERS},
	{"foreign-data wrapper", OBJ_FOREIGN_DATA_WRAPPERS},
	{"language", OBJ_LANGUAGES},
	{"publication", OBJ_PUBLICATIONS},
	{"publication member", OBJ_PUBLICATIONS},
	{"server", OBJ_SERVERS},
	{"transform", OBJ_TRANSFORMS},
	{"user mapping", OBJ_USER_MAPPINGS},
};

const char *
object_class_name(enum object_class c)
{
	return c >= 0 && c < N_OBJECT_CLASSES ? names[c] : NULL;
}

const char *const *
object_class_names(void)
{
	return names;
}

enum object_class
object_class_lookup(const char *name)
{
	for (int c = 0; c < N_OBJECT_CLASSES; c++)
		if (strcmp(names[c], name) == 0)
			return (enum object_class) c;
	return OBJ_NONE;
}

enum object_class
object_class_of_kind(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return kinds[i].cls;
	return OBJ_NONE;
}

const char *
object_class_catalog(enum object_class c)
{
	return c >= 0 && c < N_OBJECT_CLASSES ? catalogs[c] : NULL;
}

enum object_class
object_class_of_catalog(const char *catalog)
{
	for (int c = 0; catalog && c < N_OBJECT_CLASSES; c++)
		if (strcmp(catalogs[c], catalog) == 0)
			return (enum object_class) c;
	return OBJ_NONE;
}

bool
plan_excludes_class(const struct plan *plan, enum object_class c)
{
	const char *name = object_class_name(c);

	for (size_t i = 0; plan && name && i < plan->filters.exclude_object_classes.n; i++)
		if (strcmp(plan->filters.exclude_object_classes.items[i], name) == 0)
			return true;
	return false;
}
