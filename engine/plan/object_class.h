/*
 * The classes of objects outside any schema that pg_dump moves with a
 * database, by the names filters.exclude_object_classes takes (README
 * "Object classes"). The catalog (catalog_globals.c), the dump filter
 * (pg/dump_classes.c), preflight and verify all speak of them through this
 * one table.
 */
#ifndef PGSHIFT_PLAN_OBJECT_CLASS_H
#define PGSHIFT_PLAN_OBJECT_CLASS_H

#include <stdbool.h>
#include <stddef.h>

struct plan;

enum object_class {
	OBJ_ACCESS_METHODS,
	OBJ_CASTS,
	OBJ_EVENT_TRIGGERS,
	OBJ_FOREIGN_DATA_WRAPPERS,
	OBJ_LANGUAGES,
	OBJ_PUBLICATIONS,
	OBJ_SERVERS,
	OBJ_TRANSFORMS,
	OBJ_USER_MAPPINGS,
	N_OBJECT_CLASSES,
	OBJ_NONE = -1
};

/* "access_methods", ... (the plan's word); NULL for OBJ_NONE. */
const char *object_class_name(enum object_class c);
/* Every name, in enum order (N_OBJECT_CLASSES of them), for messages and suggestions. */
const char *const *object_class_names(void);
/* The class of a plan word; OBJ_NONE for an unknown one. */
enum object_class object_class_lookup(const char *name);
/*
 * The class of a catalog kind (struct cat_global: "access method",
 * "publication member", ...); OBJ_NONE for none.
 */
enum object_class object_class_of_kind(const char *kind);
/* The system catalog holding c's objects ("pg_am"); NULL for OBJ_NONE. */
const char *object_class_catalog(enum object_class c);
/* The class whose objects a catalog holds; OBJ_NONE for any other catalog. */
enum object_class object_class_of_catalog(const char *catalog);
/* Whether filters.exclude_object_classes names c (plan may be NULL: no). */
bool plan_excludes_class(const struct plan *plan, enum object_class c);

#endif
