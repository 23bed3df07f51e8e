/*
 * The capture objects of cdc.ddl: replicate on the source (ddl_capture.h).
 *
 * ddl_emit is SECURITY DEFINER (its owner, who created the publication, adds
 * new tables to it) with search_path pinned to pg_catalog, so no object of
 * the DDL's author resolves inside it; the caller's search_path is passed in
 * by the invoker-rights trigger function, which alone sees it (and the role
 * that ran the DDL, current_user there). It works only
 * while an event trigger fires (pg_event_trigger_ddl_commands refuses
 * otherwise), and emits only the statement being run (current_query()).
 *
 * A DDL's objects come from pg_event_trigger_ddl_commands at
 * ddl_command_end; what the statement dropped is only known at sql_drop,
 * which fires earlier in the same statement, so it is kept in a
 * transaction-local setting until ddl_command_end emits it all.
 *
 * The capture never makes the application's DDL fail (DESIGN.md §4a): an
 * error inside it is turned into a WARNING and, if it can still be sent, a
 * message with "error" that stops the applier, naming the statement. Nor
 * the application's later UPDATE or DELETE: a new table without a usable
 * replica identity is published at once only with cdc.replica_identity:
 * full (it gets REPLICA IDENTITY FULL, on the source only, as pgshift's own
 * change, not captured); else it waits in pgshift.ddl_pending until a DDL
 * gives it one (ATTACH PARTITION, ADD PRIMARY KEY), and rows it got before
 * are an "error" that stops the applier. One still waiting at the stop
 * position with rows stops the cutover (ddl_capture_unpublished).
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/ddl_capture.h"
#include "cdc/ddl_message.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/xalloc.h"

static const char emit_sql[] =
	"CREATE OR REPLACE FUNCTION pgshift.ddl_emit(caller_path text, caller_role text, tag text, event text) RETURNS void\n"
	"LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  dropped jsonb := coalesce(nullif(current_setting('pgshift.ddl_dropped', true), ''), '[]')::jsonb;\n"
	"  objs jsonb;\n"
	"  p record;\n"
	"  problem text;\n"
	"  had_rows boolean;\n"
	"  must_stop boolean := false;\n"
	"BEGIN\n"
	"  IF current_setting('pgshift.ddl_inner', true) = 'on' THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  IF event = 'sql_drop' THEN\n"
	"    SELECT coalesce(jsonb_agg(jsonb_build_object('type', d.object_type, 'schema', d.schema_name,\n"
	"        'identity', d.object_identity,\n"
	"        'rel_schema', CASE WHEN d.object_type IN ('table', 'table column', 'table constraint', 'trigger', 'rule', 'policy') THEN d.address_names[1] END,\n"
	"        'rel_name', CASE WHEN d.object_type IN ('table', 'table column', 'table constraint', 'trigger', 'rule', 'policy') THEN d.address_names[2] END)), '[]')\n"
	"      INTO objs FROM pg_event_trigger_dropped_objects() d WHERE NOT d.is_temporary;\n"
	"    PERFORM set_config('pgshift.ddl_dropped', (dropped || objs)::text, true);\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  PERFORM set_config('pgshift.ddl_dropped', '', true);\n"
	"  -- the commands of an extension's script: CREATE / ALTER EXTENSION itself is replicated\n"
	"  IF tag NOT LIKE '% EXTENSION' AND current_query() ~* '^\\s*(CREATE|ALTER)\\s+EXTENSION\\M' THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  SELECT coalesce(jsonb_agg(jsonb_build_object('type', c.object_type,\n"
	"      'schema', coalesce(c.schema_name, CASE WHEN tag = 'CREATE SCHEMA' AND c.object_type = 'schema' THEN\n"
	"        (SELECT ns.nspname FROM pg_namespace ns WHERE ns.oid = c.objid) END),\n"
	"      'identity', c.object_identity, 'rel_schema', rn.nspname, 'rel_name', r.relname,\n"
	"      'rel_persistence', r.relpersistence)), '[]')\n"
	"    INTO objs FROM pg_event_trigger_ddl_commands() c\n"
	"    LEFT JOIN pg_class k ON c.classid = 'pg_class'::regclass AND k.oid = c.objid\n"
	"    LEFT JOIN pg_index i ON i.indexrelid = k.oid\n"
	"    LEFT JOIN pg_constraint n ON c.classid = 'pg_constraint'::regclass AND n.oid = c.objid\n"
	"    LEFT JOIN pg_trigger g ON c.classid = 'pg_trigger'::regclass AND g.oid = c.objid\n"
	"    LEFT JOIN pg_class r ON r.oid = coalesce(i.indrelid, nullif(n.conrelid, 0), g.tgrelid, k.oid)\n"
	"      AND r.relkind IN ('r', 'p', 'f')\n"
	"    LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace\n"
	"    WHERE NOT c.in_extension;\n"
	"  objs := objs || dropped;\n"
	"  -- a new schema is watched by every plan: the applier's filters decide on it and what it will hold\n"
	"  IF tag = 'CREATE SCHEMA' THEN\n"
	"    UPDATE pgshift.ddl_capture d SET schemas = d.schemas || ARRAY(SELECT o->>'schema'\n"
	"      FROM jsonb_array_elements(objs) o WHERE o->>'type' = 'schema' AND NOT o->>'schema' = ANY (d.schemas));\n"
	"  END IF;\n"
	"  -- a table created in a migrated schema joins the publication in this transaction, so its rows flow\n"
	"  FOR p IN SELECT DISTINCT d.plan, d.publication, d.identity_full, k.oid, k.oid::regclass::text AS rel,\n"
	"      k.relreplident = 'f' OR EXISTS (SELECT FROM pg_index x WHERE x.indrelid = k.oid\n"
	"        AND ((k.relreplident = 'd' AND x.indisprimary) OR (k.relreplident = 'i' AND x.indisreplident))) AS keyed\n"
	"    FROM pg_event_trigger_ddl_commands() c\n"
	"    JOIN pg_class k ON c.classid = 'pg_class'::regclass AND k.oid = c.objid\n"
	"    JOIN pg_namespace s ON s.oid = k.relnamespace\n"
	"    JOIN pgshift.ddl_capture d ON s.nspname = ANY (d.schemas)\n"
	"    JOIN pg_publication pb ON pb.pubname = d.publication\n"
	"    WHERE k.relkind = 'r' AND k.relpersistence = 'p' AND c.command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')\n"
	"    AND NOT EXISTS (SELECT FROM pg_publication_rel pr WHERE pr.prpubid = pb.oid AND pr.prrelid = k.oid)\n"
	"  LOOP\n"
	"    -- published without an identity, the table's UPDATE and DELETE would fail on the source\n"
	"    -- it waits (a partition to be attached, a key to be added) in ddl_pending\n"
	"    IF NOT p.keyed AND NOT p.identity_full THEN\n"
	"      INSERT INTO pgshift.ddl_pending VALUES (p.plan, p.oid) ON CONFLICT DO NOTHING;\n"
	"      CONTINUE;\n"
	"    END IF;\n"
	"    IF NOT p.keyed THEN\n"
	"      PERFORM set_config('pgshift.ddl_inner', 'on', true);\n"
	"      EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', p.rel);\n"
	"      PERFORM set_config('pgshift.ddl_inner', '', true);\n"
	"    END IF;\n"
	"    EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', p.publication, p.rel);\n"
	"  END LOOP;\n"
	"  -- a waiting table that has a key now joins; rows it got before were never published\n"
	"  FOR p IN SELECT d.plan, d.publication, k.oid, k.oid::regclass::text AS rel\n"
	"    FROM pgshift.ddl_pending q JOIN pgshift.ddl_capture d ON d.plan = q.plan\n"
	"    JOIN pg_class k ON k.oid = q.relid\n"
	"    WHERE k.relreplident = 'f' OR EXISTS (SELECT FROM pg_index x WHERE x.indrelid = k.oid\n"
	"      AND ((k.relreplident = 'd' AND x.indisprimary) OR (k.relreplident = 'i' AND x.indisreplident)))\n"
	"  LOOP\n"
	"    DELETE FROM pgshift.ddl_pending WHERE plan = p.plan AND relid = p.oid;\n"
	"    EXECUTE format('SELECT EXISTS (SELECT FROM ONLY %s)', p.rel) INTO had_rows;\n"
	"    IF had_rows THEN\n"
	"      problem := concat_ws('; ', problem, format('table %s had rows before it had a primary key or '\n"
	"        'replica identity, and they were not published (cdc.replica_identity: fail)', p.rel));\n"
	"    END IF;\n"
	"    EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', p.publication, p.rel);\n"
	"  END LOOP;\n"
	"  -- a table moved into the migrated schemas brings rows the stream never had, one moved out of them\n"
	"  -- would stay on the target: either way the copy no longer matches (ddl_pending: not published yet);\n"
	"  -- stop: the applier refuses it also when the filters exclude the table's new schema\n"
	"  IF tag = 'ALTER TABLE' AND current_query() ~* '\\mSET\\s+SCHEMA\\M' THEN\n"
	"    SELECT nullif(concat_ws('; ', problem, string_agg(format('table %s was moved %s the migrated schemas '\n"
	"        '(SET SCHEMA): %s', k.oid::regclass, CASE WHEN s.nspname = ANY (d.schemas) THEN 'into' ELSE 'out of' END,\n"
	"        CASE WHEN s.nspname = ANY (d.schemas) THEN 'its rows are not in the stream' ELSE 'the target would keep '\n"
	"        'it where the source no longer has it' END), '; ')), '')\n"
	"      INTO problem FROM pg_event_trigger_ddl_commands() c\n"
	"      JOIN pg_class k ON c.classid = 'pg_class'::regclass AND k.oid = c.objid AND k.relkind = 'r'\n"
	"      JOIN pg_namespace s ON s.oid = k.relnamespace\n"
	"      CROSS JOIN pgshift.ddl_capture d JOIN pg_publication pb ON pb.pubname = d.publication\n"
	"      WHERE (s.nspname = ANY (d.schemas)) <> EXISTS (SELECT FROM pg_publication_rel pr\n"
	"          WHERE pr.prpubid = pb.oid AND pr.prrelid = k.oid)\n"
	"        AND NOT EXISTS (SELECT FROM pgshift.ddl_pending q WHERE q.plan = d.plan AND q.relid = k.oid);\n"
	"    must_stop := problem IS NOT NULL;\n"
	"  END IF;\n"
	"  -- rows a statement computes on the source alone are not in the stream: the target would compute others\n"
	"  IF tag IN ('CREATE TABLE AS', 'SELECT INTO') THEN\n"
	"    problem := concat_ws('; ', problem, format('%s fills the new table on the source without publishing '\n"
	"      'its rows, and the target would compute its own (run CREATE TABLE, then INSERT ... SELECT, whose rows '\n"
	"      'are replicated)', tag));\n"
	"  END IF;\n"
	"  -- ALTER COLUMN ... TYPE ... USING rewrites the table unpublished; its expression is not in the catalog\n"
	"  IF tag = 'ALTER TABLE' THEN\n"
	"    -- an aggregate: one row even when nothing matches, so problem keeps what is already in it\n"
	"    SELECT nullif(concat_ws('; ', problem, string_agg(format('ALTER COLUMN ... TYPE ... USING calls %s, not '\n"
	"        'immutable: the target would compute other values for the existing rows (add a column of the new '\n"
	"        'type, UPDATE it, whose values are replicated, then drop the old column and rename the new one)', u),\n"
	"        '; ')), '')\n"
	"      INTO problem FROM pgshift.ddl_using_volatile(current_query()) u WHERE u IS NOT NULL;\n"
	"  END IF;\n"
	"  -- a materialized view's rows are computed where it is created or refreshed (WITH NO DATA computes none)\n"
	"  IF tag IN ('CREATE MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW')\n"
	"      AND current_query() !~* '\\mWITH\\s+NO\\s+DATA\\s*;?\\s*$' THEN\n"
	"    SELECT nullif(concat_ws('; ', problem, string_agg(format('the query of materialized view %s is not '\n"
	"        'immutable: the target would compute other rows (create it WITH NO DATA, refresh it after the '\n"
	"        'cutover)', k.oid::regclass), '; ')), '')\n"
	"      INTO problem FROM pg_event_trigger_ddl_commands() c\n"
	"      JOIN pg_class k ON c.classid = 'pg_class'::regclass AND k.oid = c.objid AND k.relkind = 'm'\n"
	"      JOIN pg_rewrite w ON w.ev_class = k.oid\n"
	"      WHERE pgshift.ddl_not_immutable(w.ev_action::text);\n"
	"  END IF;\n"
	"  -- ADD COLUMN with a default that is not immutable (or an identity) rewrites the table unpublished;\n"
	"  -- age <= 0: the default was written by this transaction (SET DEFAULT without ADD changes no row)\n"
	"  IF tag = 'ALTER TABLE' AND current_query() ~* '\\mADD\\M' THEN\n"
	"    SELECT nullif(concat_ws('; ', problem, string_agg(format('column %I of %s is added with a default that is not '\n"
	"        'immutable (%s): the target would compute other values for the existing rows (add the column '\n"
	"        'without it, UPDATE the rows, whose values are replicated, then SET DEFAULT)', a.attname,\n"
	"        a.attrelid::regclass, coalesce(pg_get_expr(ad.adbin, ad.adrelid), 'an identity')), '; ')), '')\n"
	"      INTO problem FROM pg_event_trigger_ddl_commands() c\n"
	"      JOIN pg_attribute a ON c.classid = 'pg_class'::regclass AND a.attrelid = c.objid AND a.attnum > 0\n"
	"      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum\n"
	"      WHERE NOT a.attisdropped AND ((a.attidentity <> '' AND age(a.xmin) <= 0) OR (age(ad.xmin) <= 0 AND\n"
	"        pgshift.ddl_not_immutable(ad.adbin::text)));\n"
	"  END IF;\n"
	"  -- GRANT, REVOKE and extensions come without a schema: always sent, the target runs them (or refuses, loudly);\n"
	"  -- DDL of excluded schemas too, which the applier skips and logs; not pgshift's own nor temporary objects\n"
	"  IF tag NOT IN ('GRANT', 'REVOKE', 'CREATE EXTENSION', 'ALTER EXTENSION', 'DROP EXTENSION') AND NOT EXISTS (SELECT FROM jsonb_array_elements(objs) o\n"
	"      WHERE coalesce(o->>'rel_schema', o->>'schema') <> 'pgshift' AND coalesce(o->>'rel_schema', o->>'schema') !~ '^pg_temp_') THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  PERFORM pg_logical_emit_message(true, 'pgshift.ddl', jsonb_build_object('sql', current_query(),\n"
	"    'search_path', caller_path, 'role', caller_role, 'timezone', current_setting('TimeZone'),\n"
	"    'datestyle', current_setting('DateStyle'), 'intervalstyle', current_setting('IntervalStyle'),\n"
	"    'tag', tag, 'objects', objs,\n"
	"    'error', problem, 'stop', must_stop)::text);\n"
	"  -- decoding queues a message at its record's end, the next statement's change at its start: on a tie\n"
	"  -- (no other WAL between) this subtransaction's message may come after that change; the applier\n"
	"  -- ignores this second one, and the first one ends before it\n"
	"  PERFORM pg_logical_emit_message(true, 'pgshift.ddl_end', '');\n"
	"END\n"
	"$f$\n";

/*
 * Whether an expression's node tree (pg_node_tree as text) is not
 * immutable: a function or operator whose volatility is not, read from the
 * tree (pg_depend omits the builtin, pinned ones), an SQL value function,
 * a cast through text (it reads DateStyle and the like), nextval.
 */
static const char not_immutable_sql[] =
	"CREATE OR REPLACE FUNCTION pgshift.ddl_not_immutable(node text) RETURNS boolean\n"
	"LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $f$\n"
	"  SELECT node ~ '[{](SQLVALUEFUNCTION|COERCEVIAIO|NEXTVALUEEXPR) '\n"
	"    OR EXISTS (SELECT FROM regexp_matches(node, ':(?:op)?funcid (\\d+)', 'g') f\n"
	"      JOIN pg_proc pr ON pr.oid = f[1]::oid WHERE pr.provolatile <> 'i')\n"
	"$f$\n";

/*
 * What an ALTER TABLE calls after ... TYPE ... USING that may not be
 * immutable, comma separated, or NULL: functions by name and number of
 * arguments (any overload that is not immutable counts, as the argument
 * types are not known here; any number, when a call holds another or SQL's
 * FROM/IN/FOR syntax) and SQL value functions. The expression is read from
 * the statement's text, as the catalog keeps it nowhere once the column is
 * converted; comments, string literals and quoted names are blanked first.
 * Reading too much is a stop the operator can act on, never a difference.
 */
static const char using_volatile_sql[] =
	"CREATE OR REPLACE FUNCTION pgshift.ddl_using_volatile(q text) RETURNS text\n"
	"LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $f$\n"
	"  WITH plain AS (SELECT regexp_replace(regexp_replace(regexp_replace(q,\n"
	"      '/[*].*?[*]/|--[^\\n]*', ' ', 'g'), '''(?:[^'']|'''')*''', '''''', 'g'),\n"
	"      '\\$([[:alpha:]_]*)\\$.*?\\$\\1\\$', '''''', 'g') AS s),\n"
	"  tail AS (SELECT substring(s FROM '(?i)\\mTYPE\\M.*?\\mUSING\\M(.*)$') AS t FROM plain),\n"
	"  called AS (SELECT DISTINCT\n"
	"      CASE WHEN m[1] LIKE '\"%' THEN replace(substr(m[1], 2, length(m[1]) - 2), '\"\"', '\"') ELSE lower(m[1]) END AS nsp,\n"
	"      CASE WHEN m[2] LIKE '\"%' THEN replace(substr(m[2], 2, length(m[2]) - 2), '\"\"', '\"') ELSE lower(m[2]) END AS fn,\n"
	"      CASE WHEN m[3] IS NULL OR m[3] ~* '\\m(FROM|IN|FOR|PLACING|VARIADIC)\\M' THEN NULL\n"
	"        WHEN btrim(m[3]) = '' THEN 0 ELSE 1 + length(m[3]) - length(replace(m[3], ',', '')) END AS nargs\n"
	"    FROM tail, regexp_matches(t, '(?:(\"(?:[^\"]|\"\")+\"|[[:alpha:]_][[:alnum:]_$]*)\\s*[.]\\s*)?'\n"
	"      '(\"(?:[^\"]|\"\")+\"|[[:alpha:]_][[:alnum:]_$]*)\\s*[(](?:([^()]*)[)])?', 'g') m),\n"
	"  found AS (SELECT fn AS what FROM called c WHERE EXISTS (SELECT FROM pg_proc p\n"
	"      JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	"      WHERE p.proname = c.fn AND (c.nsp IS NULL OR n.nspname = c.nsp) AND p.provolatile <> 'i'\n"
	"      AND (c.nargs IS NULL OR p.provariadic <> 0 OR c.nargs BETWEEN p.pronargs - p.pronargdefaults AND p.pronargs))\n"
	"    UNION SELECT lower(k[1]) FROM tail, regexp_matches(regexp_replace(t, '\"(?:[^\"]|\"\")+\"', ' ', 'g'),\n"
	"      '(?i)\\m(current_date|current_time|current_timestamp|localtime|localtimestamp|current_user|'\n"
	"      'current_role|session_user|user|current_catalog|current_schema)\\M', 'g') k)\n"
	"  SELECT string_agg(what, ', ' ORDER BY what) FROM found\n"
	"$f$\n";

static const char capture_sql[] =
	"CREATE OR REPLACE FUNCTION pgshift.ddl_capture() RETURNS event_trigger LANGUAGE plpgsql AS $f$\n"
	"BEGIN\n"
	"  PERFORM pgshift.ddl_emit(pg_catalog.current_setting('search_path'), current_user::text, tg_tag,\n"
	"    tg_event);\n"
	"EXCEPTION WHEN OTHERS THEN\n"
	"  RAISE WARNING 'pgshift could not capture this DDL for replication: %', SQLERRM;\n"
	"  BEGIN\n"
	"    PERFORM pg_catalog.pg_logical_emit_message(true, 'pgshift.ddl',\n"
	"      pg_catalog.json_build_object('sql', pg_catalog.current_query(), 'tag', tg_tag,\n"
	"        'error', SQLERRM, 'objects', '[]'::pg_catalog.json)::text);\n"
	"  EXCEPTION WHEN OTHERS THEN\n"
	"    NULL;\n"
	"  END;\n"
	"END\n"
	"$f$";

static const char *const install_sql[] = {
	"CREATE SCHEMA IF NOT EXISTS pgshift",
	"GRANT USAGE ON SCHEMA pgshift TO PUBLIC",
	"CREATE TABLE IF NOT EXISTS pgshift.ddl_capture (plan text PRIMARY KEY,"
	" publication text NOT NULL, schemas text[] NOT NULL, identity_full boolean NOT NULL)",
	/* tables created without a usable replica identity, not published until they have one */
	"CREATE TABLE IF NOT EXISTS pgshift.ddl_pending (plan text, relid oid, PRIMARY KEY (plan, relid))",
	not_immutable_sql,
	using_volatile_sql,
	emit_sql,
	"GRANT EXECUTE ON FUNCTION pgshift.ddl_emit(text, text, text, text) TO PUBLIC",
	capture_sql,
};

static const char plan_row_sql[] =
	"INSERT INTO pgshift.ddl_capture (plan, publication, schemas, identity_full)"
	" SELECT $1, $2, ARRAY(SELECT pg_catalog.jsonb_array_elements_text($3::pg_catalog.jsonb)), $4"
	" ON CONFLICT (plan) DO UPDATE SET publication = EXCLUDED.publication,"
	" schemas = EXCLUDED.schemas, identity_full = EXCLUDED.identity_full";

static const char has_trigger_sql[] =
	"SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = $1";

/* The event trigger named name on event, unless it exists. */
static bool
ensure_trigger(PGconn *src, const char *name, const char *event, struct pgs_error *err)
{
	const char *params[] = {name};
	PGresult *res = pg_query(src, has_trigger_sql, 1, params, err);
	char *qname, *sql;
	bool ok;

	if (!res)
		return false;
	ok = PQntuples(res) == 1;
	PQclear(res);
	if (ok)
		return true;
	qname = pg_quote_ident(src, name);
	sql = xasprintf("CREATE EVENT TRIGGER %s ON %s EXECUTE FUNCTION " DDL_CAPTURE_FUNCTION,
					qname, event);
	ok = pg_exec(src, sql, 0, NULL, err);
	free(sql);
	free(qname);
	return ok;
}

static char *
schemas_json(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '[');
	for (size_t i = 0; i < cat->nschemas; i++) {
		if (i)
			buf_putc(&b, ',');
		json_put_string(&b, cat->schemas[i]);
	}
	buf_putc(&b, ']');
	return buf_steal(&b);
}

static bool
install(PGconn *src, const struct plan *plan, const struct catalog *cat, struct pgs_error *err)
{
	char *schemas = schemas_json(cat);
	const char *params[] = {plan->name, plan->cdc.publication, schemas,
							plan->cdc.replica_identity == REPLICA_IDENTITY_FULL ? "true" : "false"};
	bool ok = true;

	for (size_t i = 0; ok && i < sizeof(install_sql) / sizeof(install_sql[0]); i++)
		ok = pg_exec(src, install_sql[i], 0, NULL, err);
	ok = ok && pg_exec(src, plan_row_sql, 4, params, err) &&
		ensure_trigger(src, DDL_CAPTURE_END_TRIGGER, "ddl_command_end", err) &&
		ensure_trigger(src, DDL_CAPTURE_DROP_TRIGGER, "sql_drop", err);
	free(schemas);
	return ok;
}

bool
ddl_capture_install(PGconn *src, const struct plan *plan, const struct catalog *cat,
					struct pgs_error *err)
{
	struct pgs_error ignored;

	if (!pg_exec(src, "BEGIN", 0, NULL, err))
		return false;
	if (install(src, plan, cat, err) && pg_exec(src, "COMMIT", 0, NULL, err))
		return true;
	pg_exec(src, "ROLLBACK", 0, NULL, &ignored);
	pgs_error_prefix(err, "could not create the DDL capture (cdc.ddl: replicate) on the source");
	pgs_error_hint(err, "event triggers need a superuser (or the provider's admin role, e.g. "
				   "rds_superuser); pgshift plan checks it in preflight");
	return false;
}

static const char *const drop_sql[] = {
	"DROP EVENT TRIGGER IF EXISTS " DDL_CAPTURE_END_TRIGGER,
	"DROP EVENT TRIGGER IF EXISTS " DDL_CAPTURE_DROP_TRIGGER,
	"DROP FUNCTION IF EXISTS " DDL_CAPTURE_FUNCTION,
	"DROP FUNCTION IF EXISTS pgshift.ddl_emit(text, text, text, text)",
	"DROP FUNCTION IF EXISTS pgshift.ddl_not_immutable(text)",
	"DROP FUNCTION IF EXISTS pgshift.ddl_using_volatile(text)",
	"DROP TABLE pgshift.ddl_capture",
	"DROP TABLE IF EXISTS pgshift.ddl_pending",
};

/* Schema pgshift goes when nothing else is in it (another tool's object stays). */
static const char drop_schema_sql[] =
	"SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgshift' AND NOT EXISTS"
	" (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_namespace'::regclass"
	"  AND d.refobjid = n.oid)";

static bool
remove_rows(PGconn *src, const char *plan_name, bool *dropped, struct pgs_error *err)
{
	const char *params[] = {plan_name};
	PGresult *res;
	bool ok, last;

	res = pg_query(src, "SELECT pg_catalog.to_regclass('pgshift.ddl_capture') IS NOT NULL", 0,
				   NULL, err);
	if (!res)
		return false;
	ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ok)
		return true;            /* never installed, or removed already */
	if (!pg_exec(src, "DELETE FROM pgshift.ddl_capture WHERE plan = $1", 1, params, err) ||
		!pg_exec(src, "DELETE FROM pgshift.ddl_pending WHERE plan = $1", 1, params, err))
		return false;
	res = pg_query(src, "SELECT NOT EXISTS (SELECT 1 FROM pgshift.ddl_capture)", 0, NULL, err);
	if (!res)
		return false;
	last = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	ok = true;
	for (size_t i = 0; last && ok && i < sizeof(drop_sql) / sizeof(drop_sql[0]); i++)
		ok = pg_exec(src, drop_sql[i], 0, NULL, err);
	if (ok && last) {
		res = pg_query(src, drop_schema_sql, 0, NULL, err);
		ok = res && (PQntuples(res) == 0 || pg_exec(src, "DROP SCHEMA pgshift", 0, NULL, err));
		PQclear(res);
	}
	*dropped = ok && last;
	return ok;
}

bool
ddl_capture_remove(PGconn *src, const char *plan_name, bool *dropped, struct pgs_error *err)
{
	struct pgs_error ignored;

	*dropped = false;
	if (!pg_exec(src, "BEGIN", 0, NULL, err))
		return false;
	if (remove_rows(src, plan_name, dropped, err) && pg_exec(src, "COMMIT", 0, NULL, err))
		return true;
	*dropped = false;
	pg_exec(src, "ROLLBACK", 0, NULL, &ignored);
	pgs_error_prefix(err, "could not drop the DDL capture (cdc.ddl: replicate) on the source");
	return false;
}

static const char pending_sql[] =
	"SELECT n.nspname, c.relname FROM pgshift.ddl_pending q"
	" JOIN pg_catalog.pg_class c ON c.oid = q.relid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE q.plan = $1 ORDER BY 1, 2";

/* Whether the table has a row; qname quoted. */
static bool
has_rows(PGconn *src, const char *qname, bool *rows, struct pgs_error *err)
{
	char *sql = xasprintf("SELECT EXISTS (SELECT FROM ONLY %s)", qname);
	PGresult *res = pg_query(src, sql, 0, NULL, err);

	free(sql);
	if (!res)
		return false;
	*rows = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
ddl_capture_unpublished(PGconn *src, const struct plan *plan, struct buf *names,
						struct pgs_error *err)
{
	const char *params[] = {plan->name};
	PGresult *res = pg_query(src, pending_sql, 1, params, err);
	bool ok = res != NULL;

	for (int i = 0; ok && i < PQntuples(res); i++) {
		const char *schema = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
		char *qname;
		bool rows = false;

		if (!catalog_filter_copies_rows(plan, schema, name))
			continue;
		qname = pg_quote_qualified(src, schema, name);
		ok = has_rows(src, qname, &rows, err);
		if (ok && rows)
			buf_printf(names, "%s%s.%s", names->len ? ", " : "", schema, name);
		free(qname);
	}
	PQclear(res);
	return ok;
}
