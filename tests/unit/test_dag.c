/*
 * The step DAG: stable ids and the edges of DESIGN.md §3, split copies,
 * partitions, FKs after both tables, cutover order, and dag_check catching
 * cycles, dangling edges and duplicate ids.
 */
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "dag/dag_build.h"
#include "tap.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define GB (INT64_C(1024) * 1024 * 1024)

static struct cutover_step default_steps[3] = {
	{.kind = CUTOVER_WAIT_FOR_CATCHUP}, {.kind = CUTOVER_SYNC_SEQUENCES}, {.kind = CUTOVER_VERIFY},
};

static void
base_plan(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->copy.split_tables_larger_than = 10 * GB;
	p->copy.split_max_parts = 8;
	p->copy.table_jobs = 4;
	p->copy.vacuum_analyze = true;
	p->cdc.enabled = true;
	p->cutover.steps = default_steps;
	p->cutover.nsteps = 3;
	p->cleanup.when = CLEANUP_AFTER_CUTOVER;
}

/* "a, b, c": the ids of a step's dependencies, in edge order. */
static char *
deps_of(const struct dag *d, const char *id)
{
	long i = dag_find(d, id);
	struct buf b;

	if (i < 0)
		return xstrdup("(no such step)");
	buf_init(&b);
	for (size_t k = 0; k < d->steps[i].ndeps; k++)
		buf_printf(&b, "%s%s", k ? ", " : "", d->steps[step_deps(d, &d->steps[i])[k]].id);
	return buf_steal(&b);
}

static void
is_deps(const struct dag *d, const char *id, const char *want)
{
	char *got = deps_of(d, id);
	char name[256];

	snprintf(name, sizeof(name), "%s runs after: %s", id, want);
	is_str(got, want, name);
	free(got);
}

static char *
all_ids(const struct dag *d)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < d->n; i++)
		buf_printf(&b, "%s%s", i ? " " : "", d->steps[i].id);
	return buf_steal(&b);
}

static void
test_offline(void)
{
	struct plan p;
	struct dag d;
	struct pgs_error err;
	char *ids;

	base_plan(&p);
	ok(dag_compile(&p, NULL, &d, &err), "offline DAG compiles");
	ids = all_ids(&d);
	is_str(ids, "preflight snapshot schema.pre copy:* index:* constraint:* schema.post vacuum:* "
		   "cdc.stream cdc.catchup cutover.gate cutover.1:wait_for_catchup "
		   "cutover.2:sync_sequences cutover.3:verify cleanup", "offline DAG has every stage in order");
	free(ids);
	is_deps(&d, "copy:*", "snapshot, schema.pre");
	is_deps(&d, "cdc.catchup", "copy:*, schema.post");
	is_deps(&d, "cutover.gate", "schema.post, cdc.catchup, vacuum:*");
	is_deps(&d, "cleanup", "cutover.3:verify");
	dag_free(&d);

	p.cdc.enabled = false;
	p.cutover.steps = default_steps + 1;
	p.cutover.nsteps = 2;
	p.copy.vacuum_analyze = false;
	p.cleanup.when = CLEANUP_MANUAL;
	ok(dag_compile(&p, NULL, &d, &err), "offline DAG without CDC compiles");
	ids = all_ids(&d);
	is_str(ids, "preflight snapshot schema.pre copy:* index:* constraint:* schema.post "
		   "cutover.gate cutover.1:sync_sequences cutover.2:verify",
		   "no cdc, vacuum or cleanup steps when the plan turns them off");
	free(ids);
	dag_free(&d);
}

/* rollback.enabled: the reverse slot right after the last catch-up, before what follows it. */
static void
test_rollback_slot(void)
{
	struct cutover_step steps[4] = {
		{.kind = CUTOVER_WAIT_FOR_CATCHUP}, {.kind = CUTOVER_FENCE_WRITES},
		{.kind = CUTOVER_WAIT_FOR_CATCHUP}, {.kind = CUTOVER_LUA},
	};
	struct plan p;
	struct dag d;
	struct pgs_error err;
	long i;

	base_plan(&p);
	p.cutover.steps = steps;
	p.cutover.nsteps = 4;
	p.rollback.enabled = true;
	ok(dag_compile(&p, NULL, &d, &err), "DAG with rollback.enabled compiles");
	is_deps(&d, "rollback.slot", "cutover.3:wait_for_catchup");
	is_deps(&d, "cutover.4:lua", "rollback.slot");
	is_deps(&d, "cutover.2:fence_writes", "cutover.1:wait_for_catchup");
	i = dag_find(&d, "rollback.slot");
	ok(i >= 0 && strcmp(step_stage(&d.steps[i]), "cutover") == 0, "rollback.slot is of stage cutover");
	dag_free(&d);
	p.rollback.enabled = false;
	ok(dag_compile(&p, NULL, &d, &err) && dag_find(&d, "rollback.slot") < 0,
	   "no rollback.slot without rollback.enabled");
	dag_free(&d);
}

/* A catalog with a split table, FKs, a partitioned table and an exclude_data table. */
static void
fake_catalog(struct catalog *c)
{
	static struct cat_table tables[] = {
		{.schema = "public", .name = "orders", .relkind = 'r', .bytes = 25 * GB},
		{.schema = "public", .name = "customers", .relkind = 'r', .bytes = 1000},
		{.schema = "public", .name = "events", .relkind = 'p'},
		{.schema = "public", .name = "events_2024", .relkind = 'r', .is_partition = true,
		 .parent_schema = "public", .parent_name = "events", .bytes = 10},
		{.schema = "public", .name = "events_2025", .relkind = 'r', .is_partition = true,
		 .parent_schema = "public", .parent_name = "events", .bytes = 10},
		{.schema = "public", .name = "sessions", .relkind = 'r', .exclude_data = true},
	};
	static struct cat_index indexes[] = {
		{.schema = "public", .name = "orders_pkey", .table = 0, .is_primary = true, .parent = -1},
		{.schema = "public", .name = "customers_pkey", .table = 1, .is_primary = true, .parent = -1},
		{.schema = "public", .name = "events_pkey", .table = 2, .is_primary = true, .parent = -1},
		{.schema = "public", .name = "sessions_idx", .table = 5, .parent = -1},
		{.schema = "public", .name = "events_2024_pkey", .table = 3, .is_primary = true, .parent = 2},
	};
	static struct cat_constraint cons[] = {
		{.name = "orders_customer_fk", .table = 0, .type = 'f', .validated = true, .index = -1,
		 .ref_table = 1},
		{.name = "orders_pkey", .table = 0, .type = 'p', .validated = true, .index = 0, .ref_table = -1},
		{.name = "customers_pkey", .table = 1, .type = 'p', .validated = true, .index = 1, .ref_table = -1},
		{.name = "events_pkey", .table = 2, .type = 'p', .validated = true, .index = 2, .ref_table = -1},
		{.name = "events_2024_pkey", .table = 3, .type = 'p', .validated = true, .index = 4,
		 .ref_table = -1, .inherited = true},
		{.name = "orders_amount_check", .table = 0, .type = 'c', .validated = true, .index = -1, .ref_table = -1},
		{.name = "customers_name_check", .table = 1, .type = 'c', .validated = false, .index = -1, .ref_table = -1},
	};

	memset(c, 0, sizeof(*c));
	c->tables = tables;
	c->ntables = 6;
	c->indexes = indexes;
	c->nindexes = 5;
	c->constraints = cons;
	c->nconstraints = 7;
}

static void
test_catalog_dag(void)
{
	struct plan p;
	struct catalog c;
	struct dag d;
	struct pgs_error err;

	base_plan(&p);
	fake_catalog(&c);
	ok(dag_compile(&p, &c, &d, &err), "catalog DAG compiles");
	ok(dag_find(&d, "copy:public.orders#1/3") >= 0 && dag_find(&d, "copy:public.orders#3/3") >= 0,
	   "a 25 GB table above 10 GB is split into 3 parts");
	ok(dag_find(&d, "copy:public.orders") < 0, "a split table has no unsplit copy step");
	ok(dag_find(&d, "copy:public.events") < 0, "a partitioned parent is not copied itself");
	ok(dag_find(&d, "copy:public.sessions") < 0, "exclude_table_data tables are not copied");
	ok(dag_find(&d, "vacuum:public.sessions") < 0, "nor vacuumed");
	is_deps(&d, "copy:public.customers", "snapshot, schema.pre");
	is_deps(&d, "index:public.orders_pkey",
			"copy:public.orders#1/3, copy:public.orders#2/3, copy:public.orders#3/3");
	is_deps(&d, "index:public.events_pkey",
			"copy:public.events_2024, copy:public.events_2025, index:public.events_2024_pkey");
	is_deps(&d, "index:public.events_2024_pkey", "copy:public.events_2024");
	ok(dag_find(&d, "constraint:public.events_2024.events_2024_pkey") < 0,
	   "a partition's inherited constraint has no step of its own");
	is_deps(&d, "index:public.sessions_idx", "schema.pre");
	is_deps(&d, "constraint:public.orders.orders_pkey",
			"index:public.orders_pkey, copy:public.orders#1/3, copy:public.orders#2/3, copy:public.orders#3/3");
	is_deps(&d, "constraint:public.orders.orders_customer_fk",
			"copy:public.orders#1/3, copy:public.orders#2/3, copy:public.orders#3/3, "
			"constraint:public.customers.customers_pkey, index:public.customers_pkey, "
			"copy:public.customers, index:public.orders_pkey, constraint:public.orders.orders_pkey");
	ok(dag_find(&d, "constraint:public.orders.orders_amount_check") < 0,
	   "a validated CHECK comes with CREATE TABLE: no step");
	ok(dag_find(&d, "constraint:public.customers.customers_name_check") >= 0,
	   "a NOT VALID CHECK gets its own step");
	is_deps(&d, "vacuum:public.orders",
			"copy:public.orders#1/3, copy:public.orders#2/3, copy:public.orders#3/3, index:public.orders_pkey, "
			"constraint:public.orders.orders_pkey, constraint:public.orders.orders_customer_fk");
	is_deps(&d, "vacuum:public.customers",
			"copy:public.customers, index:public.customers_pkey, constraint:public.customers.customers_pkey");
	ok(dag_find(&d, "cdc.catchup") > dag_find(&d, "schema.post"), "catch-up comes after schema.post");
	is_deps(&d, "cutover.1:wait_for_catchup", "cutover.gate");
	is_deps(&d, "cutover.3:verify", "cutover.2:sync_sequences");
	ok(dag_check(&d, &err), "the compiled DAG passes dag_check");
	for (size_t i = 0; i < d.n; i++)
		for (size_t k = 0; k < d.steps[i].ndeps; k++)
			if (step_deps(&d, &d.steps[i])[k] >= i)
				ok(0, "every dependency comes before its step");
	dag_free(&d);
}

/*
 * Two FKs on one table run one after the other (each validation holds the
 * table's SHARE UPDATE EXCLUSIVE), and so do a table's FKs and its vacuum;
 * an FK and the FKs of the table it references are not ordered.
 */
static void
test_fk_lock_order(void)
{
	static struct cat_table tables[] = {
		{.schema = "s", .name = "items", .relkind = 'r', .bytes = 10},
		{.schema = "s", .name = "orders", .relkind = 'r', .bytes = 10},
		{.schema = "s", .name = "users", .relkind = 'r', .bytes = 10},
	};
	static struct cat_constraint cons[] = {
		{.name = "orders_user_fk", .table = 1, .type = 'f', .validated = true, .index = -1, .ref_table = 2},
		{.name = "items_order_fk", .table = 0, .type = 'f', .validated = true, .index = -1, .ref_table = 1},
		{.name = "items_user_fk", .table = 0, .type = 'f', .validated = true, .index = -1, .ref_table = 2},
	};
	struct catalog c;
	struct plan p;
	struct dag d;
	struct pgs_error err;

	base_plan(&p);
	memset(&c, 0, sizeof(c));
	c.tables = tables;
	c.ntables = 3;
	c.constraints = cons;
	c.nconstraints = 3;
	ok(dag_compile(&p, &c, &d, &err), "a DAG of three FKs compiles");
	is_deps(&d, "constraint:s.items.items_order_fk",
			"copy:s.items, copy:s.orders");
	is_deps(&d, "constraint:s.items.items_user_fk",
			"copy:s.items, copy:s.users, constraint:s.items.items_order_fk");
	is_deps(&d, "vacuum:s.items",
			"copy:s.items, constraint:s.items.items_order_fk, constraint:s.items.items_user_fk");
	is_deps(&d, "vacuum:s.users", "copy:s.users");
	dag_free(&d);
}

static void
test_check(void)
{
	struct dag d = {0};
	struct pgs_error err;
	size_t a, b, c;

	a = dag_add(&d, STEP_COPY, "a");
	b = dag_add(&d, STEP_INDEX, "b");
	dag_edge(&d, a);
	c = dag_add(&d, STEP_CONSTRAINT, "c");
	dag_edge(&d, b);
	dag_edge(&d, a);
	dag_edge(&d, b);
	dag_edge(&d, a);
	dag_edges_done(&d);
	ok(dag_check(&d, &err), "a chain is sound");
	is_int(d.steps[c].ndeps, 2, "duplicate edges filed once");
	ok(step_deps(&d, &d.steps[c])[0] == b && step_deps(&d, &d.steps[c])[1] == a,
	   "in the order first added");
	is_int(d.steps[b].ndeps, 1, "each step's edges under it");
	ok(step_deps(&d, &d.steps[b])[0] == a, "the right one");
	dag_free(&d);

	/* a runs after c, the step added third: an edge to a step to come */
	a = dag_add(&d, STEP_COPY, "a");
	dag_edge(&d, 2);
	dag_add(&d, STEP_INDEX, "b");
	dag_edge(&d, a);
	dag_add(&d, STEP_CONSTRAINT, "c");
	dag_edge(&d, 1);
	dag_edges_done(&d);
	ok(!dag_check(&d, &err), "a cycle is caught");
	is_str(err.message, "dependency cycle (each step runs after the next): a -> c -> b -> a",
		   "the cycle is named step by step");
	dag_free(&d);

	dag_add(&d, STEP_COPY, "a");
	dag_edge(&d, 7);
	dag_edges_done(&d);
	ok(!dag_check(&d, &err), "a dangling edge is caught");
	is_str(err.message, "step \"a\" depends on a step that does not exist (#7)", "and named");
	dag_free(&d);

	dag_add(&d, STEP_COPY, "x");
	dag_add(&d, STEP_COPY, "x");
	ok(!dag_check(&d, &err), "duplicate ids are caught");
	is_str(err.message, "two steps have the id \"x\"", "and named");
	dag_free(&d);
}

static void
test_parts(void)
{
	struct plan p;

	base_plan(&p);
	is_int(dag_copy_parts(&p, 10 * GB, 10 * GB), 1, "a table at the limit is not split");
	is_int(dag_copy_parts(&p, 10 * GB + 1, 10 * GB + 1), 2, "just above the limit: 2 parts");
	is_int(dag_copy_parts(&p, 35 * GB, 35 * GB), 4, "35 GB / 10 GB: 4 parts");
	is_int(dag_copy_parts(&p, 500 * GB, 500 * GB), 8, "capped at split_max_parts");
	is_int(dag_copy_parts(&p, 35 * GB, 140 * GB), 1,
		   "a table of one share of 4 jobs is not split: the other jobs stay busy");
	is_int(dag_copy_parts(&p, 52 * GB, 140 * GB), 1, "nor at 1.49 shares");
	is_int(dag_copy_parts(&p, 53 * GB, 140 * GB), 6, "at 1.51 shares it is");
	p.copy.table_jobs = 1;
	is_int(dag_copy_parts(&p, 35 * GB, 140 * GB), 4, "one job: the threshold alone decides");
	p.copy.table_jobs = 4;
	p.copy.split_max_parts = 1;
	is_int(dag_copy_parts(&p, 500 * GB, 500 * GB), 1, "split_max_parts 1 turns splitting off");
}

int
main(void)
{
	test_offline();
	test_rollback_slot();
	test_catalog_dag();
	test_fk_lock_order();
	test_check();
	test_parts();
	return done_testing();
}
