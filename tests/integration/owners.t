# Owners, privileges and roles (README "Owners, privileges and roles",
# DESIGN.md §4c), end to end on real servers with privileges.t's
# non-superuser roles: source `migrator` with exactly the README grants,
# target `tgt` owning its database with CREATEDB CREATEROLE plus
# GRANT SET ON PARAMETER session_replication_role.
# 1. roles: require: plan exits 2 listing every missing role (a policy's
#    among them), and neither plan nor apply changes the target catalog.
# 2. An owner role the target has but tgt is not a member of: plan exits 2
#    with the GRANT that fixes it.
# 3. owners: keep, privileges: keep, roles: create_missing: an online apply
#    under writes with fence_writes cuts over, verifies identical, and every
#    owner and ACL (tables, views, sequences, columns, schemas, functions,
#    default privileges) equals the source's by role NAME; the roles it
#    created have the source's attributes and no password; verify --level
#    schema notices an ACL changed on the target.
# 4. owners: {map: ...}: owners and grantees renamed into a second target
#    database; reset drops the roles that run created, but keeps one that
#    something else still uses.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(user_tables compare_table);

my $c = start_clusters();
my ($src_super, $tgt_super) = ($c->{source_uri}, $c->{target_uri});
sub uri { my ($port, $user, $db) = @_; return "postgresql://$user\@127.0.0.1:$port/$db"; }
my $src_admin = uri($c->{source_port}, 'postgres', 'shop');
my $tgt_admin = uri($c->{target_port}, 'postgres', 'shop');
my $src_mig = uri($c->{source_port}, 'migrator', 'shop');
my $tgt_mig = uri($c->{target_port}, 'tgt', 'shop');
my $src_writer = uri($c->{source_port}, 'writer', 'shop');

psql($src_super, q{CREATE ROLE app NOLOGIN; CREATE ROLE other NOLOGIN CONNECTION LIMIT 7;
                   CREATE ROLE dbowner NOLOGIN; CREATE ROLE auditor NOLOGIN; CREATE ROLE inspector NOLOGIN;
                   CREATE ROLE reader NOLOGIN; CREATE ROLE writer LOGIN PASSWORD 'w-secret' VALID UNTIL '2031-02-03 04:05:06+00';
                   CREATE ROLE migrator LOGIN REPLICATION; GRANT reader TO writer});
psql($src_super, 'CREATE DATABASE shop OWNER dbowner');
psql($src_admin, <<'SQL');
CREATE SCHEMA billing AUTHORIZATION other;
CREATE TABLE public.accounts (id serial PRIMARY KEY, name text, note text);
CREATE TABLE billing.ledger (id bigint PRIMARY KEY, amount numeric, memo text);
CREATE SEQUENCE billing.invoice_no;
CREATE VIEW billing.big AS SELECT id, amount FROM billing.ledger WHERE amount > 100;
CREATE FUNCTION billing.total() RETURNS numeric LANGUAGE sql STABLE AS 'SELECT sum(amount) FROM billing.ledger';
ALTER TABLE public.accounts OWNER TO app;
ALTER TABLE billing.ledger OWNER TO other;
ALTER SEQUENCE billing.invoice_no OWNER TO other;
ALTER VIEW billing.big OWNER TO other;
ALTER FUNCTION billing.total() OWNER TO other;
CREATE COLLATION billing.nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TEXT SEARCH CONFIGURATION billing.simple_en (COPY = pg_catalog.simple);
CREATE FUNCTION billing.near(numeric, numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT abs($1 - $2) < 1';
CREATE OPERATOR billing.~~~ (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = billing.near);
CREATE STATISTICS billing.ledger_stats ON id, amount FROM billing.ledger;
ALTER COLLATION billing.nocase OWNER TO other;
ALTER TEXT SEARCH CONFIGURATION billing.simple_en OWNER TO other;
ALTER FUNCTION billing.near(numeric, numeric) OWNER TO other;
ALTER OPERATOR billing.~~~ (numeric, numeric) OWNER TO other;
ALTER STATISTICS billing.ledger_stats OWNER TO other;
REVOKE EXECUTE ON FUNCTION billing.total() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing.total() TO reader;
GRANT USAGE ON SCHEMA billing TO writer, reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.accounts, billing.ledger TO writer;
GRANT USAGE ON SEQUENCE public.accounts_id_seq TO writer;
GRANT SELECT ON billing.big TO reader;
GRANT UPDATE (memo) ON billing.ledger TO reader;
GRANT SELECT ON billing.ledger TO auditor WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE other IN SCHEMA billing GRANT SELECT ON TABLES TO reader;
ALTER DEFAULT PRIVILEGES FOR ROLE other REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON public.accounts FOR SELECT TO auditor USING (true);
CREATE POLICY inspect ON public.accounts FOR SELECT TO inspector USING (true);
CREATE POLICY writer_all ON public.accounts TO writer USING (true) WITH CHECK (true);
INSERT INTO public.accounts (name, note) SELECT 'n' || g, CASE WHEN g % 3 = 0 THEN 'null' END
  FROM generate_series(1, 3000) g;
INSERT INTO billing.ledger SELECT g, g * 1.5, 'it''s ' || g FROM generate_series(1, 3000) g;
SELECT setval('billing.invoice_no', 42);
SQL
# the README "Least privilege" list for the source role
psql($src_admin, $_) for (
    'GRANT SELECT ON public.accounts, billing.ledger TO migrator',
    'GRANT SELECT ON SEQUENCE public.accounts_id_seq, billing.invoice_no TO migrator',
    'GRANT CREATE ON DATABASE shop TO migrator',
    'GRANT app, other TO migrator',
    'GRANT dbowner TO migrator',
    'GRANT pg_signal_backend TO migrator',
);

psql($tgt_super, 'CREATE ROLE tgt LOGIN CREATEDB CREATEROLE');
psql($tgt_super, 'CREATE DATABASE shop OWNER tgt');
psql($tgt_super, 'GRANT SET ON PARAMETER session_replication_role TO tgt');

my $pdir = tempdir(CLEANUP => 1);
my $tail = <<'YAML';
copy:
  table_jobs: 2
  vacuum_analyze: false
cdc:
  enabled: true
  max_lag: 1s
cutover:
  approval: auto
  steps:
    - fence_writes: { roles: [writer] }
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
YAML
sub plan_with {
    my ($file, $schema, $rest) = @_;
    mkdir "$pdir/$file";
    return write_plan("version: 1\nname: $file\nsource:\n  uri: \${SOURCE_URI}\ntarget:\n"
                      . "  uri: \${TARGET_URI}\nschema:\n$schema" . ($rest // $tail), "$pdir/$file");
}
my %env = (SOURCE_URI => $src_mig, TARGET_URI => $tgt_mig);

sub checks_of {
    my ($out) = @_;
    my $doc = eval { decode_json($out) } or return {};
    return { map { $_->{name} => $_ } @{ $doc->{preflight}{checks} // $doc->{checks} // [] } };
}

# Everything a run could leave on the target cluster: relations, schemas, roles.
sub target_catalog {
    return psql($tgt_admin, q{SELECT
        (SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'),
        (SELECT string_agg(nspname, ',' ORDER BY 1) FROM pg_namespace),
        (SELECT string_agg(rolname, ',' ORDER BY 1) FROM pg_roles)});
}

# Owner and effective ACL of every object in the migrated schemas, by role
# NAME (a NULL ACL as the default it stands for), one line each.
my $acl_sql = q{
WITH x AS (
  SELECT 'rel ' || n.nspname || '.' || c.relname AS obj, c.relowner AS own,
         COALESCE(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname IN ('public', 'billing') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  UNION ALL SELECT 'schema ' || nspname, nspowner, COALESCE(nspacl, acldefault('n', nspowner))
    FROM pg_namespace WHERE nspname IN ('public', 'billing')
  UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname, p.proowner, COALESCE(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'billing')
  UNION ALL SELECT 'column ' || c.relname || '.' || a.attname, c.relowner, a.attacl
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname IN ('public', 'billing') AND a.attacl IS NOT NULL
  UNION ALL SELECT 'collation ' || n.nspname || '.' || collname, collowner, NULL FROM pg_collation x
    JOIN pg_namespace n ON n.oid = x.collnamespace WHERE n.nspname IN ('public', 'billing')
  UNION ALL SELECT 'ts config ' || n.nspname || '.' || cfgname, cfgowner, NULL FROM pg_ts_config x
    JOIN pg_namespace n ON n.oid = x.cfgnamespace WHERE n.nspname IN ('public', 'billing')
  UNION ALL SELECT 'operator ' || n.nspname || '.' || oprname, oprowner, NULL FROM pg_operator x
    JOIN pg_namespace n ON n.oid = x.oprnamespace WHERE n.nspname IN ('public', 'billing')
  UNION ALL SELECT 'statistics ' || n.nspname || '.' || stxname, stxowner, NULL FROM pg_statistic_ext x
    JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE n.nspname IN ('public', 'billing')
  UNION ALL SELECT 'default ' || COALESCE(n.nspname, '-') || ' ' || d.defaclobjtype::text, d.defaclrole, d.defaclacl
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace)
SELECT x.obj || ' owner=' || r.rolname || ' acl=' || COALESCE((SELECT string_agg(v, ',' ORDER BY v) FROM (
         SELECT COALESCE(g.rolname, 'PUBLIC') || ':' || e.privilege_type || CASE WHEN e.is_grantable THEN '*' ELSE '' END AS v
           FROM aclexplode(x.acl) e LEFT JOIN pg_roles g ON g.oid = e.grantee) q), '')
  FROM x JOIN pg_roles r ON r.oid = x.own ORDER BY 1};

# ---- 1. roles: require
{
    my $plan = plan_with('own_require', "  owners: keep\n  privileges: keep\n  roles: require\n");
    my $before = target_catalog();
    my $r = run_pgshift(\%env, 'plan', $plan, '--format', 'json');
    is($r->{rc}, 2, 'require: plan exits 2') or diag($r->{out}, $r->{err});
    my $ck = checks_of($r->{out});
    is($ck->{owner_roles}{status}, 'FAIL', 'require: owner_roles FAILs');
    like($ck->{owner_roles}{observed} // '', qr/missing on the target: "app" \(named by owner of [^)]+\), "auditor" \(named by a GRANT on TABLE billing\.ledger\), "migrator" \(named by a GRANT on [^)]+\), "other" \(named by [^)]+\), "reader" \(named by [^)]+\), "writer" \(named by [^)]+\)\z/,
         'require: every missing owner and grantee is listed, with what names it');
    like($ck->{owner_roles}{hint} // '', qr/CREATE ROLE "app" NOLOGIN; .*or set schema\.roles: create_missing/,
         'require: the hint gives the CREATE ROLEs and the plan key');
    is($ck->{target_roles}{status}, 'FAIL', 'require: a policy to a missing role FAILs target_roles');
    like($ck->{target_roles}{observed} // '', qr/^missing on the target: "inspector" \(named by policy inspect on public\.accounts\)$/,
         'require: target_roles names the policy and its role');
    is(target_catalog(), $before, 'require: plan left the target catalog unchanged');
    $r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 1, 'require: apply refuses');
    like($r->{err}, qr/preflight FAIL owner_roles/, 'require: apply names the failed check');
    is(target_catalog(), $before, 'require: apply left the target catalog unchanged');
}

my $keep_plan = plan_with('own_keep', "  owners: keep\n  privileges: keep\n  roles: create_missing\n");

# ---- 2. an owner role tgt is not a member of
{
    psql($tgt_super, 'CREATE ROLE app NOLOGIN');
    my $r = run_pgshift(\%env, 'plan', $keep_plan, '--format', 'json');
    is($r->{rc}, 2, 'membership: plan exits 2');
    my $ck = checks_of($r->{out})->{owner_membership};
    is($ck && $ck->{status}, 'FAIL', 'membership: owner_membership FAILs');
    like($ck && $ck->{hint} // '', qr/GRANT "app" TO "tgt"/, 'membership: the hint gives the GRANT');
    psql($tgt_super, 'DROP ROLE app');
}

# ---- 3. keep everything, create the missing roles, online under writes
{
    my $r = run_pgshift(\%env, 'plan', $keep_plan, '--format', 'json');
    is($r->{rc}, 0, 'keep: plan finds nothing blocking') or diag($r->{out}, $r->{err});
    my $ck = checks_of($r->{out});
    like($ck->{owner_roles}{observed} // '', qr/^6 role\(s\) to create \(schema\.roles: create_missing, no password\)/,
         'keep: owner_roles says which roles apply creates');
    like($ck->{target_roles}{observed} // '', qr/^1 role\(s\) to create .*"inspector" \(named by policy inspect/,
         'keep: target_roles says apply creates the policy\'s role');
    my $stop = "$pdir/stop";
    my $wl = fork() // die;
    if ($wl == 0) {
        open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
        my $i = 0;
        while (!-e $stop) {
            local $ENV{PGPASSWORD} = 'w-secret';
            open(my $ps, '|-', 'psql', '-X', '-q', '-d', $src_writer) or last;
            for (1 .. 50) {
                $i++;
                print $ps "INSERT INTO public.accounts (name, note) VALUES ('w$i', 'null');\n";
                print $ps "UPDATE billing.ledger SET memo = 'u$i' WHERE id = " . (1 + $i % 3000) . ";\n";
                print $ps "DELETE FROM public.accounts WHERE id = " . (1 + $i % 3000) . ";\n" if $i % 7 == 0;
            }
            close($ps);
            sleep 0.05;
        }
        POSIX::_exit(0);
    }
    sleep 1;
    $r = run_pgshift(\%env, 'apply', $keep_plan, '--yes', '--no-progress');
    open(my $fh, '>', $stop); close($fh);
    waitpid($wl, 0);
    is($r->{rc}, 0, 'keep: online apply with the non-superuser roles succeeds') or diag($r->{err});
    my $writes = psql($src_admin, "SELECT count(*) FROM public.accounts WHERE name LIKE 'w%'");
    ok($writes > 0, "keep: the workload wrote during the run ($writes rows)");
    my @diff;
    my $tables = user_tables($src_admin);
    for my $t (@$tables) {
        my ($rows, $d) = compare_table($src_admin, $tgt_admin, @$t);
        push @diff, $d if $d;
    }
    ok(@$tables == 2 && !@diff, 'keep: both tables identical on the target') or diag(join("\n", @diff));
    my ($src_acl, $tgt_acl) = (psql($src_admin, $acl_sql), psql($tgt_admin, $acl_sql));
    like($src_acl, qr/^rel billing\.ledger owner=other acl=auditor:SELECT\*,migrator:SELECT,other:DELETE,/m,
         'keep: the comparison reads owners and grants');
    like($src_acl, qr/^collation billing\.nocase owner=other .*^operator billing\.~~~ owner=other .*^statistics billing\.ledger_stats owner=other .*^ts config billing\.simple_en owner=other /ms,
         'keep: ... and the owners of collations, operators, statistics and text search objects');
    is($tgt_acl, $src_acl, 'keep: every owner and ACL on the target equals the source\'s, by role name');
    is(psql($tgt_super, q{SELECT string_agg(rolname || ':' || rolcanlogin || ':' || rolconnlimit || ':'
                                  || COALESCE(rolvaliduntil::text, '-') || ':' || (rolpassword IS NULL), ' ' ORDER BY rolname)
                            FROM pg_authid WHERE rolname IN ('app', 'auditor', 'inspector', 'migrator', 'other', 'reader', 'writer')}),
       'app:false:-1:-:true auditor:false:-1:-:true inspector:false:-1:-:true migrator:true:-1:-:true '
       . 'other:false:7:-:true reader:false:-1:-:true writer:true:-1:2031-02-03 04:05:06+00:true',
       'keep: the created roles have the source\'s attributes and no password');
    is(psql($tgt_super, q{SELECT pg_has_role('writer', 'reader', 'MEMBER')}), 't',
       'keep: the memberships among them were granted');
    is(psql($tgt_super, q{SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = 'migrator'}), 'f',
       'keep: REPLICATION is not given to a created role');
    $r = run_pgshift(\%env, 'verify', $keep_plan, '--level', 'schema');
    is($r->{rc}, 0, 'keep: verify --level schema finds owners and ACLs identical') or diag($r->{out}, $r->{err});
    psql($tgt_admin, 'REVOKE UPDATE (memo) ON billing.ledger FROM reader; ALTER VIEW billing.big OWNER TO tgt');
    $r = run_pgshift(\%env, 'verify', $keep_plan, '--level', 'schema');
    is($r->{rc}, 1, 'keep: verify --level schema fails once the target differs');
    like($r->{out}, qr/COLUMN billing\.ledger \(memo\).*missing on the target/, 'keep: verify names the lost column grant');
    like($r->{out}, qr/owner is tgt on the target, other on the source/, 'keep: verify names the changed owner');
    psql($tgt_admin, 'GRANT UPDATE (memo) ON billing.ledger TO reader; ALTER VIEW billing.big OWNER TO other');
    psql($src_super, 'ALTER DATABASE shop RESET default_transaction_read_only');
}

# ---- 4. map owners and grantees into a second target database
{
    psql($tgt_super, 'CREATE DATABASE shop_map OWNER tgt');
    my $map_plan = plan_with('own_map', "  owners:\n    map: { other: ledger_owner, reader: ledger_reader }\n"
                             . "  roles: create_missing\n",
                             "copy: { table_jobs: 2, vacuum_analyze: false }\ncdc: { enabled: false }\n"
                             . "cutover: { approval: auto }\ncleanup: { keep_state: true }\n");
    my %menv = (SOURCE_URI => $src_mig, TARGET_URI => uri($c->{target_port}, 'tgt', 'shop_map'));
    my $map_admin = uri($c->{target_port}, 'postgres', 'shop_map');
    my $r = run_pgshift(\%menv, 'apply', $map_plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'map: apply succeeds') or diag($r->{err});
    (my $want = psql($src_admin, $acl_sql)) =~ s/\bother\b/ledger_owner/g;
    $want =~ s/\breader\b/ledger_reader/g;
    # renamed grantees sort elsewhere in each line's list
    $want = join "\n", map { my ($head, $acl) = /\A(.* acl=)(.*)\z/; $head . join(',', sort split /,/, $acl) }
                         split /\n/, $want;
    is(psql($map_admin, $acl_sql), $want, 'map: owners and grantees are renamed, the others kept');
    $r = run_pgshift(\%menv, 'verify', $map_plan, '--level', 'schema');
    is($r->{rc}, 0, 'map: verify --level schema compares through the map') or diag($r->{out}, $r->{err});
    # something outside the plan now uses ledger_reader: reset must keep it
    psql($tgt_super, 'CREATE TABLE public.elsewhere (i int); GRANT SELECT ON public.elsewhere TO ledger_reader');
    $r = run_pgshift(\%menv, 'reset', $map_plan, '--yes');
    is($r->{rc}, 0, 'map: reset succeeds') or diag($r->{err});
    like($r->{err}, qr/reset: dropped role "ledger_owner" \(created by apply\)/, 'map: reset drops the role apply created');
    like($r->{err}, qr/reset: kept role "ledger_reader", created by apply: it is still used \(1 object in database postgres\)/,
         'map: reset keeps a created role something else uses, and says why');
    is(psql($tgt_super, q{SELECT string_agg(rolname, ',' ORDER BY 1) FROM pg_roles WHERE rolname LIKE 'ledger%'}),
       'ledger_reader', 'map: only the role still in use is left');
    is(psql($tgt_super, q{SELECT count(*) FROM pg_roles WHERE rolname IN ('app', 'writer')}), '2',
       'map: roles the run did not create (made by the keep run) stay');
}

# ---- 5. roles: ignore: a mapped owner the target lacks gives way to tgt, grants to it go
{
    psql($tgt_super, 'CREATE DATABASE shop_ignore OWNER tgt');
    my $plan = plan_with('own_ignore', "  owners:\n    map: { other: ghost, reader: phantom }\n  roles: ignore\n",
                         "copy: { table_jobs: 2, vacuum_analyze: false }\ncdc: { enabled: false }\n"
                         . "cutover: { approval: auto }\ncleanup: { keep_state: true }\n");
    my %ienv = (SOURCE_URI => $src_mig, TARGET_URI => uri($c->{target_port}, 'tgt', 'shop_ignore'));
    my $admin = uri($c->{target_port}, 'postgres', 'shop_ignore');
    my $r = run_pgshift(\%ienv, 'plan', $plan, '--format', 'json');
    is($r->{rc}, 0, 'ignore: plan does not block') or diag($r->{out}, $r->{err});
    my $ck = checks_of($r->{out})->{owner_roles};
    is($ck && $ck->{status}, 'WARN', 'ignore: owner_roles WARNs');
    like($ck && $ck->{observed} // '', qr/will belong to the target login and their grants are dropped: "ghost" \(named by [^)]+\), "phantom"/,
         'ignore: the WARN names the missing roles');
    $r = run_pgshift(\%ienv, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'ignore: apply succeeds') or diag($r->{err});
    like($r->{err}, qr/default privileges of role "other" are dropped/, 'ignore: says the default privileges are dropped');
    is(psql($admin, q{SELECT relowner::regrole || ' ' || array_to_string(ARRAY(SELECT g.rolname || ':' || e.privilege_type
                        FROM aclexplode(COALESCE(relacl, acldefault('r', relowner))) e JOIN pg_roles g ON g.oid = e.grantee ORDER BY 1), ',')
                      FROM pg_class WHERE oid = 'billing.big'::regclass}),
       'tgt tgt:DELETE,tgt:INSERT,tgt:REFERENCES,tgt:SELECT,tgt:TRIGGER,tgt:TRUNCATE,tgt:UPDATE',
       'ignore: the view belongs to tgt, without the grant to the missing role');
    is(psql($admin, q{SELECT count(*) FROM pg_default_acl}), '0', 'ignore: no default privileges were given to tgt');
    is(psql($admin, q{SELECT relowner::regrole FROM pg_class WHERE oid = 'public.accounts'::regclass}), 'app',
       'ignore: an owner the target has is kept');
    $r = run_pgshift(\%ienv, 'verify', $plan, '--level', 'schema');
    is($r->{rc}, 0, 'ignore: verify --level schema compares what ignore keeps') or diag($r->{out}, $r->{err});
}

done_testing();
