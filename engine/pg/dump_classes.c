/*
 * Object classes of archive entries; see dump_classes.h. pg_restore --list
 * writes "DESC SCHEMA TAG OWNER": an object outside any schema has "-" for
 * SCHEMA, and a comment, security label or grant on one has a TAG that
 * starts with the object's own keyword ("CAST (integer AS zoo.pair)",
 * "FOREIGN SERVER s" for a server's grant).
 */
#include <stdlib.h>
#include <string.h>

#include "pg/dump_classes.h"
#include "util/xalloc.h"

static const struct {
	const char *desc;
	enum object_class cls;
} entry_classes[] = {
	{"ACCESS METHOD", OBJ_ACCESS_METHODS},
	{"CAST", OBJ_CASTS},
	{"EVENT TRIGGER", OBJ_EVENT_TRIGGERS},
	{"FOREIGN DATA WRAPPER", OBJ_FOREIGN_DATA_WRAPPERS},
	{"PROCEDURAL LANGUAGE", OBJ_LANGUAGES},
	{"PUBLICATION", OBJ_PUBLICATIONS},
	{"PUBLICATION TABLE", OBJ_PUBLICATIONS},
	{"PUBLICATION TABLES IN SCHEMA", OBJ_PUBLICATIONS},
	{"SERVER", OBJ_SERVERS},
	{"TRANSFORM", OBJ_TRANSFORMS},
	{"USER MAPPING", OBJ_USER_MAPPINGS},
};

/* Tag prefixes of COMMENT, SECURITY LABEL and ACL entries on such objects. */
static const struct {
	const char *prefix;
	enum object_class cls;
} tag_classes[] = {
	{"ACCESS METHOD ", OBJ_ACCESS_METHODS},
	{"CAST ", OBJ_CASTS},
	{"EVENT TRIGGER ", OBJ_EVENT_TRIGGERS},
	{"FOREIGN DATA WRAPPER ", OBJ_FOREIGN_DATA_WRAPPERS},
	{"LANGUAGE ", OBJ_LANGUAGES},
	{"PUBLICATION ", OBJ_PUBLICATIONS},
	{"SERVER ", OBJ_SERVERS},
	{"FOREIGN SERVER ", OBJ_SERVERS},
	{"TRANSFORM ", OBJ_TRANSFORMS},
	{"USER MAPPING ", OBJ_USER_MAPPINGS},
};

static bool
is_desc(const struct toc_entry *e, const char *desc)
{
	return e->desc && strcmp(e->desc, desc) == 0;
}

static bool
describes_other(const struct toc_entry *e)
{
	return is_desc(e, "COMMENT") || is_desc(e, "SECURITY LABEL") || is_desc(e, "ACL");
}

enum object_class
toc_object_class(const struct toc_entry *e)
{
	for (size_t i = 0; i < sizeof(entry_classes) / sizeof(entry_classes[0]); i++)
		if (is_desc(e, entry_classes[i].desc))
			return entry_classes[i].cls;
	if (!describes_other(e) || strncmp(e->rest, "- ", 2) != 0)
		return OBJ_NONE;
	for (size_t i = 0; i < sizeof(tag_classes) / sizeof(tag_classes[0]); i++)
		if (strncmp(e->rest + 2, tag_classes[i].prefix, strlen(tag_classes[i].prefix)) == 0)
			return tag_classes[i].cls;
	return OBJ_NONE;
}

char *
toc_publication_name(const struct toc_entry *e)
{
	return describes_other(e) ? toc_tag_ident(e, "PUBLICATION ") : NULL;
}

/* Whether text starts with a pgshift publication's name and a space. */
static bool
names_pgshifts_at(const char *text, const char *own)
{
	size_t lo = own ? strlen(own) : 0;

	if (lo && strncmp(text, own, lo) == 0 && text[lo] == ' ')
		return true;
	return strncmp(text, "pgshift_", 8) == 0 && strchr(text + 8, ' ') != NULL;
}

bool
toc_publication_is_pgshifts(const struct toc_entry *e, const char *own,
							char *const *schemas, size_t nschemas)
{
	char *name;
	bool ours;

	if (is_desc(e, "PUBLICATION"))
		return strncmp(e->rest, "- ", 2) == 0 && names_pgshifts_at(e->rest + 2, own);
	if (is_desc(e, "PUBLICATION TABLE") || is_desc(e, "PUBLICATION TABLES IN SCHEMA")) {
		for (size_t i = 0; i < nschemas; i++) {
			size_t ls = strlen(schemas[i]);

			if (strncmp(e->rest, schemas[i], ls) == 0 && e->rest[ls] == ' ' &&
				names_pgshifts_at(e->rest + ls + 1, own))
				return true;
		}
		return false;
	}
	name = toc_publication_name(e);
	ours = name && publication_is_pgshifts(name, own);
	free(name);
	return ours;
}

bool
publication_is_pgshifts(const char *name, const char *own)
{
	return strncmp(name, "pgshift_", strlen("pgshift_")) == 0 || (own && strcmp(name, own) == 0);
}
