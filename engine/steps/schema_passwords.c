/*
 * schema.copy_passwords (README "Owners, privileges and roles"): a role
 * create_missing creates gets the source's password verifier, as stored in
 * pg_authid (SCRAM-SHA-256 or MD5; PostgreSQL stores no plain password since
 * version 10). The verifier travels only as a bound parameter: a temporary
 * function quotes it with format(%L) on the target, so no SQL text pgshift
 * builds, logs or records ever holds it, and an error from the target keeps
 * its primary message only, which never quotes the statement.
 */
#include "pg/conn.h"
#include "steps/steps_int.h"

static const char verifier_sql[] =
	"SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1 AND rolpassword IS NOT NULL";

static const char setter_sql[] =
	"CREATE OR REPLACE FUNCTION pg_temp.pgshift_set_password(r text, v text) RETURNS void"
	" LANGUAGE plpgsql AS $f$ BEGIN"
	" EXECUTE pg_catalog.format('ALTER ROLE %I PASSWORD %L', r, v); END $f$";

static const char set_sql[] = "SELECT pg_temp.pgshift_set_password($1, $2)";

bool
schema_role_password(PGconn *src, PGconn *tgt, const char *source, const char *target,
					 bool *copied, struct pgs_error *err)
{
	const char *params[2] = {source, NULL};
	PGresult *res = pg_query(src, verifier_sql, 1, params, err);
	bool ok = res != NULL;

	*copied = false;
	if (ok && PQntuples(res) == 1) {
		params[0] = target;
		params[1] = PQgetvalue(res, 0, 0);
		ok = pg_exec(tgt, setter_sql, 0, NULL, err) && pg_exec(tgt, set_sql, 2, params, err);
		*copied = ok;
	}
	if (!ok)
		pgs_error_prefix(err, "could not copy the password of role \"%s\"", source);
	PQclear(res);
	return ok;
}
