/* What test_catalog.c expects of the schema tests/integration/catalog.t creates. */
#ifndef PGSHIFT_TESTS_CATALOG_EXPECTED_H
#define PGSHIFT_TESTS_CATALOG_EXPECTED_H

static const char expect_a_tables[] =
	"app.MixedCase r ri=f pk=t\n"
	"app.audit r ri=d pk=t\n"
	"app.customers r ri=d pk=t\n"
	"app.event_notes r ri=d pk=f\n"
	"app.events p ri=d pk=t\n"
	"app.events_2023 r of app.events ri=d pk=t\n"
	"app.events_2024 r of app.events ri=d pk=t\n"
	"app.events_default r of app.events ri=d pk=t nodata\n"
	"app.keyed r ri=i pk=f\n"
	"app.metrics p ri=d pk=f\n"
	"app.metrics_a r of app.metrics ri=d pk=f\n"
	"app.nopk r ri=d pk=f\n"
	"app.orders r ri=d pk=t\n"
	"app.sessions r ri=d pk=t nodata\n"
	"app.we\"ird table r ri=d pk=t\n"
	"select.from r ri=d pk=t\n";
static const char expect_a_orders_cols[] =
	"1 id bigint not null identity=a\n"
	"2 customer_id bigint not null\n"
	"3 qty integer not null\n"
	"4 price numeric(10,2) not null\n"
	"5 total numeric(12,2) generated\n"
	"6 note text\n";
static const char expect_a_weird_cols[] =
	"1 id integer not null\n"
	"2 sp ace text\n";
static const char expect_a_indexes[] =
	"app.MixedCase_pkey on app.MixedCase primary unique constraint: CREATE UNIQUE INDEX \"MixedCase_pkey\" ON app.\"MixedCase\" USING btree (id)\n"
	"app.audit_pkey on app.audit primary unique constraint: CREATE UNIQUE INDEX audit_pkey ON app.audit USING btree (id)\n"
	"app.customers_email_key on app.customers unique constraint: CREATE UNIQUE INDEX customers_email_key ON app.customers USING btree (email)\n"
	"app.customers_pkey on app.customers primary unique constraint: CREATE UNIQUE INDEX customers_pkey ON app.customers USING btree (id)\n"
	"app.events_2023_pkey on app.events_2023 primary unique constraint parent=events_pkey: CREATE UNIQUE INDEX events_2023_pkey ON app.events_2023 USING btree (id, at)\n"
	"app.events_2024_pkey on app.events_2024 primary unique constraint parent=events_pkey: CREATE UNIQUE INDEX events_2024_pkey ON app.events_2024 USING btree (id, at)\n"
	"app.events_default_pkey on app.events_default primary unique constraint parent=events_pkey: CREATE UNIQUE INDEX events_default_pkey ON app.events_default USING btree (id, at)\n"
	"app.events_pkey on app.events primary unique constraint: CREATE UNIQUE INDEX events_pkey ON ONLY app.events USING btree (id, at)\n"
	"app.keyed_code_key on app.keyed unique constraint: CREATE UNIQUE INDEX keyed_code_key ON app.keyed USING btree (code)\n"
	"app.orders_lower_note on app.orders: CREATE INDEX orders_lower_note ON app.orders USING btree (lower(note))\n"
	"app.orders_pkey on app.orders primary unique constraint: CREATE UNIQUE INDEX orders_pkey ON app.orders USING btree (id)\n"
	"app.sessions_pkey on app.sessions primary unique constraint: CREATE UNIQUE INDEX sessions_pkey ON app.sessions USING btree (id)\n"
	"app.we\"ird table_pkey on app.we\"ird table primary unique constraint: CREATE UNIQUE INDEX \"we\"\"ird table_pkey\" ON app.\"we\"\"ird table\" USING btree (id)\n"
	"select.from_pkey on select.from primary unique constraint: CREATE UNIQUE INDEX from_pkey ON \"select\".\"from\" USING btree (id)\n";
static const char expect_a_constraints[] =
	"app.MixedCase MixedCase_pkey p index=MixedCase_pkey: PRIMARY KEY (id)\n"
	"app.audit audit_pkey p index=audit_pkey: PRIMARY KEY (id)\n"
	"app.audit audit_scratch_id_fkey f -> app.tmp_scratch [-1]: FOREIGN KEY (scratch_id) REFERENCES app.tmp_scratch(id)\n"
	"app.customers customers_email_key u index=customers_email_key: UNIQUE (email)\n"
	"app.customers customers_pkey p index=customers_pkey: PRIMARY KEY (id)\n"
	"app.customers customers_referred_by_fkey f -> app.customers [app.customers]: FOREIGN KEY (referred_by) REFERENCES app.customers(id)\n"
	"app.event_notes event_notes_event_id_event_at_fkey f -> app.events [app.events]: FOREIGN KEY (event_id, event_at) REFERENCES app.events(id, at)\n"
	"app.event_notes event_notes_event_id_event_at_fkey1 f -> app.events_2023 [app.events_2023] inherited: FOREIGN KEY (event_id, event_at) REFERENCES app.events_2023(id, at)\n"
	"app.event_notes event_notes_event_id_event_at_fkey2 f -> app.events_2024 [app.events_2024] inherited: FOREIGN KEY (event_id, event_at) REFERENCES app.events_2024(id, at)\n"
	"app.event_notes event_notes_event_id_event_at_fkey3 f -> app.events_default [app.events_default] inherited: FOREIGN KEY (event_id, event_at) REFERENCES app.events_default(id, at)\n"
	"app.events events_pkey p index=events_pkey: PRIMARY KEY (id, at)\n"
	"app.events_2023 events_2023_pkey p index=events_2023_pkey inherited: PRIMARY KEY (id, at)\n"
	"app.events_2024 events_2024_pkey p index=events_2024_pkey inherited: PRIMARY KEY (id, at)\n"
	"app.events_default events_default_pkey p index=events_default_pkey inherited: PRIMARY KEY (id, at)\n"
	"app.keyed keyed_code_key u index=keyed_code_key: UNIQUE (code)\n"
	"app.orders orders_customer_id_fkey f -> app.customers [app.customers]: FOREIGN KEY (customer_id) REFERENCES app.customers(id)\n"
	"app.orders orders_pkey p index=orders_pkey: PRIMARY KEY (id)\n"
	"app.orders qty_positive c NOT VALID: CHECK ((qty > 0)) NOT VALID\n"
	"app.sessions sessions_pkey p index=sessions_pkey: PRIMARY KEY (id)\n"
	"app.we\"ird table we\"ird table_pkey p index=we\"ird table_pkey: PRIMARY KEY (id)\n"
	"select.from from_customer_id_fkey f -> app.customers [app.customers]: FOREIGN KEY (customer_id) REFERENCES app.customers(id)\n"
	"select.from from_pkey p index=from_pkey: PRIMARY KEY (id)\n";
static const char expect_a_objects[] =
	"sequence app.customers_id_seq owned by app.customers.id\n"
	"sequence app.free_seq\n"
	"sequence app.orders_id_seq owned by app.orders.id\n"
	"matview app.customer_count\n"
	"view app.order_totals\n"
	"schema app\n"
	"schema public\n"
	"schema select\n";
static const char expect_a_unmatched[] =
	"filters.exclude_schemas nosuch_schema exclude\n"
	"filters.exclude_tables app.nothing_here exclude\n"
	"filters.exclude_extensions nosuch_ext exclude\n";
static const char expect_b_tables[] =
	"app.events p ri=d pk=t\n"
	"app.events_2023 r of app.events ri=d pk=t\n"
	"app.events_2024 r of app.events ri=d pk=t nodata\n"
	"app.events_default r of app.events ri=d pk=t\n"
	"app.orders r ri=d pk=t\n";
static const char expect_b_constraints[] =
	"app.events events_pkey p index=events_pkey: PRIMARY KEY (id, at)\n"
	"app.events_2023 events_2023_pkey p index=events_2023_pkey inherited: PRIMARY KEY (id, at)\n"
	"app.events_2024 events_2024_pkey p index=events_2024_pkey inherited: PRIMARY KEY (id, at)\n"
	"app.events_default events_default_pkey p index=events_default_pkey inherited: PRIMARY KEY (id, at)\n"
	"app.orders orders_customer_id_fkey f -> app.customers [-1]: FOREIGN KEY (customer_id) REFERENCES app.customers(id)\n"
	"app.orders orders_pkey p index=orders_pkey: PRIMARY KEY (id)\n"
	"app.orders qty_positive c NOT VALID: CHECK ((qty > 0)) NOT VALID\n";
static const char expect_b_objects[] =
	"sequence app.orders_id_seq owned by app.orders.id\n"
	"schema app\n";
static const char expect_b_unmatched[] =
	"filters.include_schemas nosuch* include\n"
	"filters.include_tables app.log_2024 include\n"
	"filters.include_tables app.nosuch* include\n";

#endif
