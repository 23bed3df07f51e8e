/*
 * Plan + catalog -> step DAG (DESIGN.md §3). Steps are added in an order
 * where every dependency comes first, so the array is already topological;
 * dag_check proves it after every compile.
 */
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "dag/dag_build.h"
#include "util/xalloc.h"

struct compile {
	const struct plan *plan;
	const struct catalog *cat;
	struct dag *dag;
	size_t preflight, snapshot, schema_pre, schema_post;
	long blobs, catchup;
	struct steplists copies;        /* per table: copy steps (leaves' for parents) */
	struct steplists indexes;       /* per table: index steps */
	struct steplists keys;          /* per table: PK/unique/exclusion constraint steps */
	struct steplists fks;           /* per table: steps of FKs on it */
	uint32_t *index_step;           /* per catalog index: its step */
	struct idlist all_copies, all_indexes, all_constraints, all_vacuums;
	int64_t copy_bytes;             /* of every table whose rows are copied */
};

/*
 * A table is split only when, whole, it would clearly outlast the other
 * copies: more than 1.5 times the table_jobs workers' even share of all the
 * data. Below that the workers stay busy with other tables anyway, and a
 * split costs what a whole-table copy does not: its parts cannot COPY
 * FREEZE (the table is emptied once, before them), so its vacuum step
 * rewrites every page's hint bits and visibility map, and the parts wait
 * for each other's relation extension lock (on issue 20's 1.5 GB set, a
 * table of 1.42 shares cut in 2 parts: 53 s and 18 s against 13.6 s and
 * 15.9 s whole). With one job no table is more than its share, and parts
 * could not run in parallel anyway: the threshold alone decides, as it did
 * before, and parts then only bound the size of each target transaction.
 */
int
dag_copy_parts(const struct plan *plan, int64_t bytes, int64_t total_bytes)
{
	int64_t limit = plan->copy.split_tables_larger_than;
	int64_t jobs = plan->copy.table_jobs > 0 ? plan->copy.table_jobs : 1;
	int64_t parts;

	if (limit <= 0 || bytes <= limit || plan->copy.split_max_parts < 2)
		return 1;
	if (jobs > 1 && (double) bytes * (double) jobs * 2.0 <= (double) total_bytes * 3.0)
		return 1;
	parts = (bytes + limit - 1) / limit;
	if (parts < 2)
		parts = 2;
	return parts > plan->copy.split_max_parts ? plan->copy.split_max_parts : (int) parts;
}

static long
find_table(const struct catalog *cat, const char *schema, const char *name)
{
	for (size_t i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].schema, schema) == 0 && strcmp(cat->tables[i].name, name) == 0)
			return (long) i;
	return -1;
}

static void
add_copy_steps(struct compile *c, size_t t)
{
	const struct cat_table *tab = &c->cat->tables[t];
	int n = dag_copy_parts(c->plan, tab->bytes, c->copy_bytes);

	for (int k = 1; k <= n; k++) {
		size_t s = n == 1 ? dag_addf(c->dag, STEP_COPY, "copy:%s.%s", tab->schema, tab->name)
			: dag_addf(c->dag, STEP_COPY, "copy:%s.%s#%d/%d", tab->schema, tab->name, k, n);
		struct step *st = &c->dag->steps[s];

		st->table = (long) t;
		st->part = (uint16_t) (n == 1 ? 0 : k);
		st->nparts = (uint16_t) (n == 1 ? 0 : n);
		st->est_bytes = tab->bytes / n;
		dag_edge(c->dag, c->snapshot);
		dag_edge(c->dag, c->schema_pre);
		steplists_push(&c->copies, t, s);
		idlist_push(&c->all_copies, s);
	}
}

/* A partitioned parent's data is its leaves': give every ancestor their copies. */
static void
propagate_to_parents(struct compile *c)
{
	const struct catalog *cat = c->cat;

	for (size_t t = 0; t < cat->ntables; t++) {
		const struct cat_table *leaf = &cat->tables[t];
		long p;
		int depth = 0;

		if (!leaf->is_partition || steplists_empty(&c->copies, t))
			continue;
		p = find_table(cat, leaf->parent_schema, leaf->parent_name);
		while (p >= 0 && depth++ < 64) {
			/* by cell number: a push may move the cells */
			for (uint32_t k = c->copies.head[t]; k != STEPLIST_END; k = c->copies.cells[k].next)
				steplists_push(&c->copies, (size_t) p, c->copies.cells[k].step);
			if (!cat->tables[p].is_partition)
				break;
			p = find_table(cat, cat->tables[p].parent_schema, cat->tables[p].parent_name);
		}
	}
}

/* After the table's data, or after the schema when it has none to copy. */
static void
after_table_data(struct compile *c, long table)
{
	if (table >= 0 && !steplists_empty(&c->copies, (size_t) table))
		dag_edges_list(c->dag, &c->copies, (size_t) table);
	else
		dag_edge(c->dag, c->schema_pre);
}

/*
 * Per catalog index, the indexes attached to it, in catalog order: one
 * array of them all, kids[at[i] .. at[i + 1]) for index i.
 */
struct index_kids {
	uint32_t *at, *kids;
};

static void
index_kids_build(const struct catalog *cat, struct index_kids *k)
{
	uint32_t *fill = xcalloc(cat->nindexes + 1, sizeof(uint32_t));

	k->at = xcalloc(cat->nindexes + 1, sizeof(uint32_t));
	for (size_t i = 0; i < cat->nindexes; i++)
		if (cat->indexes[i].parent >= 0)
			k->at[cat->indexes[i].parent + 1]++;
	for (size_t i = 0; i < cat->nindexes; i++)
		k->at[i + 1] += k->at[i];
	k->kids = xcalloc(k->at[cat->nindexes] + 1, sizeof(uint32_t));
	for (size_t i = 0; i < cat->nindexes; i++) {
		long p = cat->indexes[i].parent;

		if (p >= 0)
			k->kids[k->at[p] + fill[p]++] = (uint32_t) i;
	}
	free(fill);
}

static void
add_index_step(struct compile *c, const struct index_kids *k, size_t i)
{
	const struct cat_index *ix = &c->cat->indexes[i];
	size_t s = dag_addf(c->dag, STEP_INDEX, "index:%s.%s", ix->schema, ix->name);

	c->dag->steps[s].object = (int32_t) i;
	c->dag->steps[s].table = (int32_t) ix->table;
	c->dag->steps[s].est_bytes = c->cat->tables[ix->table].bytes;
	after_table_data(c, (long) ix->table);
	/* its attached indexes are deeper, so their steps are there already */
	for (uint32_t j = k->at[i]; j < k->at[i + 1]; j++)
		dag_edge(c->dag, c->index_step[k->kids[j]]);
	c->index_step[i] = (uint32_t) s;
	steplists_push(&c->indexes, ix->table, s);
	idlist_push(&c->all_indexes, s);
}

static int
index_depth(const struct catalog *cat, size_t i)
{
	int depth = 0;

	for (long p = cat->indexes[i].parent; p >= 0 && depth < 64; p = cat->indexes[p].parent)
		depth++;
	return depth;
}

/*
 * A partitioned index adopts the partitions' matching indexes when it is
 * created, so the deepest (leaf) indexes come first and each parent runs
 * after the indexes attached to it.
 */
static void
add_index_steps(struct compile *c)
{
	int *depth = xcalloc(c->cat->nindexes, sizeof(int));
	struct index_kids kids;
	int max = 0;

	for (size_t i = 0; i < c->cat->nindexes; i++) {
		depth[i] = index_depth(c->cat, i);
		max = depth[i] > max ? depth[i] : max;
	}
	index_kids_build(c->cat, &kids);
	for (int d = max; d >= 0; d--)
		for (size_t i = 0; i < c->cat->nindexes; i++)
			if (depth[i] == d)
				add_index_step(c, &kids, i);
	free(kids.at);
	free(kids.kids);
	free(depth);
}

/*
 * Validated CHECK constraints are part of CREATE TABLE (pre-data), and a
 * partition's copy of its parent's constraint is made by the parent's: no step.
 */
static bool
needs_step(const struct cat_constraint *con)
{
	return !con->inherited && (con->type != 'c' || !con->validated);
}

static void
add_constraint_step(struct compile *c, size_t k)
{
	const struct cat_constraint *con = &c->cat->constraints[k];
	const struct cat_table *tab = &c->cat->tables[con->table];
	size_t s = dag_addf(c->dag, STEP_CONSTRAINT, "constraint:%s.%s.%s", tab->schema, tab->name,
						con->name);

	c->dag->steps[s].object = (int32_t) k;
	c->dag->steps[s].table = (int32_t) con->table;
	if (con->index >= 0)
		dag_edge(c->dag, c->index_step[con->index]);
	after_table_data(c, (long) con->table);
	/*
	 * Steps whose locks on a table conflict run one after the other here
	 * instead of one waiting on the server for the other, a worker idle
	 * meanwhile (a key's ACCESS EXCLUSIVE behind an index build's SHARE, an
	 * FK's SHARE ROW EXCLUSIVE behind another FK's validation of its table).
	 * Not ordered: an FK and the FKs of the table it references, whose check
	 * holds only ROW SHARE there (that chain measured slower, issue 20).
	 */
	if (con->type != 'f')
		dag_edges_list(c->dag, &c->indexes, con->table);
	if (con->type == 'f' && con->ref_table >= 0) {
		/* the referenced key must exist and hold its rows before the FK is checked */
		dag_edges_list(c->dag, &c->keys, (size_t) con->ref_table);
		dag_edges_list(c->dag, &c->indexes, (size_t) con->ref_table);
		after_table_data(c, con->ref_table);
		/*
		 * and its own table's indexes: one on the FK's columns lets the check
		 * merge two index-only scans instead of hashing (step_constraint.c)
		 */
		dag_edges_list(c->dag, &c->indexes, con->table);
		dag_edges_list(c->dag, &c->keys, con->table);
		dag_edges_list(c->dag, &c->fks, con->table);
	}
	if (con->type == 'f')
		steplists_push(&c->fks, con->table, s);
	if (con->type == 'p' || con->type == 'u' || con->type == 'x')
		steplists_push(&c->keys, con->table, s);
	idlist_push(&c->all_constraints, s);
}

static void
add_constraint_steps(struct compile *c)
{
	/* keys first, so every FK finds the steps of the key it references */
	for (int pass = 0; pass < 2; pass++)
		for (size_t k = 0; k < c->cat->nconstraints; k++) {
			const struct cat_constraint *con = &c->cat->constraints[k];

			if (needs_step(con) && (con->type == 'f') == (pass == 1))
				add_constraint_step(c, k);
		}
}

static void
add_vacuum_steps(struct compile *c)
{
	if (!c->plan->copy.vacuum_analyze)
		return;
	for (size_t t = 0; t < c->cat->ntables; t++) {
		const struct cat_table *tab = &c->cat->tables[t];
		size_t s;

		if (!cat_table_copies_data(tab))
			continue;
		s = dag_addf(c->dag, STEP_VACUUM, "vacuum:%s.%s", tab->schema, tab->name);
		c->dag->steps[s].table = (int32_t) t;
		c->dag->steps[s].est_bytes = tab->bytes;
		dag_edges_list(c->dag, &c->copies, t);
		dag_edges_list(c->dag, &c->indexes, t);
		/* its SHARE UPDATE EXCLUSIVE and theirs on this table conflict */
		dag_edges_list(c->dag, &c->keys, t);
		dag_edges_list(c->dag, &c->fks, t);
		idlist_push(&c->all_vacuums, s);
	}
}

/*
 * At most how many steps the DAG gets: each copy part, index, constraint
 * and vacuum, the stages' own steps and the cutover's. Most of the steps
 * are these, so the bound is close.
 */
static size_t
max_steps(const struct compile *c)
{
	size_t n = c->dag->n + 16 + c->plan->cutover.nsteps;

	for (size_t t = 0; t < c->cat->ntables; t++)
		if (cat_table_copies_data(&c->cat->tables[t]))
			n += (size_t) dag_copy_parts(c->plan, c->cat->tables[t].bytes, c->copy_bytes) + 1;
	return n + c->cat->nindexes + c->cat->nconstraints;
}

static void
add_catalog_steps(struct compile *c)
{
	size_t nt = c->cat->ntables;

	steplists_init(&c->copies, nt);
	steplists_init(&c->indexes, nt);
	steplists_init(&c->keys, nt);
	steplists_init(&c->fks, nt);
	c->index_step = xcalloc(c->cat->nindexes + 1, sizeof(uint32_t));
	for (size_t t = 0; t < nt; t++)
		if (cat_table_copies_data(&c->cat->tables[t]))
			c->copy_bytes += c->cat->tables[t].bytes;
	dag_reserve(c->dag, max_steps(c));
	for (size_t t = 0; t < nt; t++)
		if (cat_table_copies_data(&c->cat->tables[t]))
			add_copy_steps(c, t);
	propagate_to_parents(c);
	if (c->cat->has_large_objects) {
		c->blobs = (long) dag_add(c->dag, STEP_BLOBS, "blobs");
		dag_edge(c->dag, c->schema_pre);
		dag_edge(c->dag, c->snapshot);
	}
	add_index_steps(c);
	add_constraint_steps(c);
}

static size_t
add_placeholder(struct compile *c, enum step_kind kind, const char *id, size_t after)
{
	size_t s = dag_add(c->dag, kind, id);

	c->dag->steps[s].placeholder = true;
	dag_edge(c->dag, after);
	return s;
}

/* Offline: one step stands for all copies, all indexes, all constraints. */
static void
add_offline_steps(struct compile *c)
{
	size_t copy = add_placeholder(c, STEP_COPY, "copy:*", c->snapshot);
	size_t index, con;

	dag_edge(c->dag, c->schema_pre);
	index = add_placeholder(c, STEP_INDEX, "index:*", copy);
	con = add_placeholder(c, STEP_CONSTRAINT, "constraint:*", index);
	idlist_push(&c->all_copies, copy);
	idlist_push(&c->all_indexes, index);
	idlist_push(&c->all_constraints, con);
}

static void
add_schema_post(struct compile *c)
{
	c->schema_post = dag_add(c->dag, STEP_SCHEMA_POST, "schema.post");
	dag_edge(c->dag, c->schema_pre);
	dag_edges(c->dag, &c->all_copies);
	dag_edges(c->dag, &c->all_indexes);
	dag_edges(c->dag, &c->all_constraints);
}

static void
add_offline_vacuum(struct compile *c)
{
	size_t s;

	if (!c->plan->copy.vacuum_analyze)
		return;
	s = add_placeholder(c, STEP_VACUUM, "vacuum:*", c->all_indexes.items[0]);
	idlist_push(&c->all_vacuums, s);
}

static void
add_cdc_steps(struct compile *c)
{
	if (!c->plan->cdc.enabled)
		return;
	dag_add(c->dag, STEP_CDC_STREAM, "cdc.stream");
	dag_edge(c->dag, c->snapshot);
	c->catchup = (long) dag_add(c->dag, STEP_CDC_CATCHUP, "cdc.catchup");
	dag_edges(c->dag, &c->all_copies);
	dag_edge(c->dag, c->schema_post);
}

/*
 * The gate also waits for vacuums and large objects: DESIGN.md puts it after
 * cdc.catchup only, but cutting over to a target still being vacuumed, or
 * missing its large objects, is not what an operator approves.
 */
/* Index of the plan's last wait_for_catchup cutover step; nsteps when none. */
static size_t
last_catchup(const struct plan *plan)
{
	size_t last = plan->cutover.nsteps;

	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == CUTOVER_WAIT_FOR_CATCHUP)
			last = i;
	return last;
}

/*
 * rollback.slot right after the last wait_for_catchup: the forward applier
 * has stopped there, so no change it made on the target is sent back, and
 * every later cutover step (the one that switches traffic included) runs
 * after the reverse slot's consistent point.
 */
static size_t
add_rollback_slot(struct compile *c, size_t prev)
{
	size_t s;

	if (!c->plan->rollback.enabled)
		return prev;
	s = dag_add(c->dag, STEP_ROLLBACK_SLOT, "rollback.slot");
	dag_edge(c->dag, prev);
	return s;
}

static void
add_cutover_steps(struct compile *c)
{
	size_t gate = dag_add(c->dag, STEP_CUTOVER_GATE, "cutover.gate");
	size_t prev = gate;

	dag_edge(c->dag, c->schema_post);
	if (c->catchup >= 0)
		dag_edge(c->dag, (size_t) c->catchup);
	if (c->blobs >= 0)
		dag_edge(c->dag, (size_t) c->blobs);
	dag_edges(c->dag, &c->all_vacuums);
	for (size_t i = 0; i < c->plan->cutover.nsteps; i++) {
		size_t s = dag_addf(c->dag, STEP_CUTOVER, "cutover.%zu:%s", i + 1,
							cutover_kind_name(c->plan->cutover.steps[i].kind));

		c->dag->steps[s].object = (int32_t) i;
		dag_edge(c->dag, prev);
		prev = s;
		if (i == last_catchup(c->plan))
			prev = add_rollback_slot(c, prev);
	}
	if (c->plan->cleanup.when == CLEANUP_AFTER_CUTOVER) {
		dag_add(c->dag, STEP_CLEANUP, "cleanup");
		dag_edge(c->dag, prev);
	}
}

static void
compile_free(struct compile *c)
{
	steplists_free(&c->copies);
	steplists_free(&c->indexes);
	steplists_free(&c->keys);
	steplists_free(&c->fks);
	free(c->index_step);
	idlist_free(&c->all_copies);
	idlist_free(&c->all_indexes);
	idlist_free(&c->all_constraints);
	idlist_free(&c->all_vacuums);
}

bool
dag_compile(const struct plan *plan, const struct catalog *cat, struct dag *dag,
			struct pgs_error *err)
{
	struct compile c = {.plan = plan, .cat = cat, .dag = dag, .blobs = -1, .catchup = -1};
	bool ok;

	memset(dag, 0, sizeof(*dag));
	dag->offline = cat == NULL;
	c.preflight = dag_add(dag, STEP_PREFLIGHT, "preflight");
	c.snapshot = dag_add(dag, STEP_SNAPSHOT, "snapshot");
	dag_edge(dag, c.preflight);
	c.schema_pre = dag_add(dag, STEP_SCHEMA_PRE, "schema.pre");
	dag_edge(dag, c.preflight);
	/* cdc.ddl: replicate: the schema is dumped on the slot's snapshot; later DDL is streamed */
	if (plan->cdc.enabled && plan->cdc.ddl == DDL_REPLICATE)
		dag_edge(dag, c.snapshot);
	if (cat)
		add_catalog_steps(&c);
	else
		add_offline_steps(&c);
	add_schema_post(&c);
	if (cat)
		add_vacuum_steps(&c);
	else
		add_offline_vacuum(&c);
	add_cdc_steps(&c);
	add_cutover_steps(&c);
	compile_free(&c);
	dag_edges_done(dag);
	dag_index_ids(dag);
	ok = dag_check(dag, err);
	if (!ok)
		pgs_error_prefix(err, "internal error while compiling the plan");
	return ok;
}
