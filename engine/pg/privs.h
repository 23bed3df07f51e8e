/*
 * Owners and ACLs of the objects the schema steps restore (README "Owners,
 * privileges and roles"): schemas, relations, columns, routines, types,
 * domains, collations, conversions, operators, operator classes and
 * families, text search dictionaries and configurations and statistics
 * objects of the catalog's schemas, foreign servers and languages, and the
 * default privileges
 * (ALTER DEFAULT PRIVILEGES) global or of those schemas. Read the same way
 * on both servers, by role NAME, so verify compares them across servers and
 * the schema steps re-create them with a role map.
 */
#ifndef PGSHIFT_PG_PRIVS_H
#define PGSHIFT_PG_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "util/error.h"
#include "util/strpool.h"

/* One object with an owner and an ACL; its strings are in privs.strings. */
struct priv_object {
	char *kind;                 /* SQL keyword: SCHEMA, TABLE, SEQUENCE, FUNCTION, PROCEDURE,
								 * AGGREGATE, TYPE, DOMAIN, COLLATION, CONVERSION, OPERATOR,
								 * OPERATOR CLASS, OPERATOR FAMILY, TEXT SEARCH DICTIONARY,
								 * TEXT SEARCH CONFIGURATION, STATISTICS, SERVER, LANGUAGE,
								 * COLUMN, DEFAULT */
	char *ident;                /* quoted name as SQL takes it: public.t, public.f(integer);
								 * DEFAULT: "IN SCHEMA s", or "" for the role's global ones */
	char *column;               /* COLUMN: the quoted column name; DEFAULT: the object class
								 * (TABLES, SEQUENCES, FUNCTIONS, TYPES, SCHEMAS); else NULL */
	char *owner;                /* role name; DEFAULT: the role the defaults are for */
	char *schema;               /* the schema it is in (SCHEMA: itself), unquoted; NULL for
								 * global default privileges */
	bool follows_table;         /* a sequence a table owns (serial, identity): its owner is the
								 * table's, never changed on its own */
	bool explicit_acl;          /* the ACL was changed from the built-in default */
	char **grants;              /* "GRANTEE\x1ePRIVILEGE", " WITH GRANT OPTION" appended when
								 * so; GRANTEE a role name or PUBLIC; sorted */
	size_t ngrants;
};

struct privs {
	struct priv_object *objs;   /* owned */
	size_t n;
	struct strpool strings;     /* owns every string of objs */
};

/* Reads the owners and effective ACLs of the catalog's schemas' objects on conn. */
bool privs_load(PGconn *conn, const struct catalog *cat, struct privs *out,
				struct pgs_error *err);
void privs_free(struct privs *p);

/* The role names of conn's cluster, sorted (for membership lookups). */
bool privs_role_names(PGconn *conn, struct strlist *out, struct pgs_error *err);
bool privs_has_name(const struct strlist *sorted, const char *name);

/*
 * Which target role stands for a source role (schema.owners, schema.roles).
 * target_roles (sorted) matters under roles: ignore only, where a role the
 * target lacks gives its objects to the login and loses its grants.
 */
struct role_map {
	const struct plan *plan;
	const char *login;                  /* current_user on the target */
	const struct strlist *target_roles;
};

/* The owner on the target of an object src_owner owns on the source. */
const char *role_map_owner(const struct role_map *m, const char *src_owner);
/*
 * Whether src_owner's objects went to the login only because the target
 * lacks the role (roles: ignore): their default privileges are then not
 * the login's to take, and are dropped.
 */
bool role_map_fell_back(const struct role_map *m, const char *src_owner);
/*
 * A grant ("GRANTEE\x1ePRIVILEGE...") of an object owned by src_owner, with its
 * grantee mapped (malloc'd); NULL when the grant is dropped. The owner's own
 * entry follows the owner.
 */
char *role_map_grant(const struct role_map *m, const char *grant, const char *src_owner);

/* The object of pv with o's kind, name and column (and, for DEFAULT, owner), or NULL. */
const struct priv_object *privs_find(const struct privs *pv, const struct priv_object *o,
									 const char *owner);
/*
 * o's grants as the target should hold them: mapped by m, dropped ones left
 * out, sorted and joined with ", " (spaces for the \x1e), malloc'd.
 */
char *privs_expected_grants(const struct role_map *m, const struct priv_object *o);
/* o's grants joined the same way, malloc'd. */
char *privs_grants_text(const struct priv_object *o);

/* "{a,b}" with each item double-quoted and escaped, to bind as one text[]. */
char *privs_text_array(char *const *items, size_t n);

#endif
