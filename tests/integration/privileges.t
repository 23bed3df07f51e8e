# Least privilege (DESIGN.md §4c, README "Least privilege"), end to end on
# real servers with no superuser in the migration:
#   - source role `migrator`: LOGIN REPLICATION, SELECT on the tables and
#     sequences, CREATE on the database, membership in the tables' owners
#     and in the database owner, pg_signal_backend — exactly the README list;
#   - target role `tgt`: owner of the target database, CREATEDB CREATEROLE,
#     plus GRANT SET ON PARAMETER session_replication_role.
# 1. For each privilege left out, `plan` exits 2 with that check FAILed (the
#    fixing SQL naming the role quoted) and the target catalog unchanged;
#    `apply` refuses too. A policy to a role missing on the target is caught.
# 2. With every grant, plan passes and an online apply under writes with
#    fence_writes cuts over and verifies identical.
# The plan gives every object to the target login (schema.owners:
# target_role, privileges: drop); owners.t keeps the source's owners and
# grants with the same roles.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
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

# The source: tables owned by two application roles, a database owned by a
# third, a policy to a role the target does not have, a writer login.
psql($src_super, q{CREATE ROLE app NOLOGIN; CREATE ROLE other NOLOGIN; CREATE ROLE dbowner NOLOGIN;
                   CREATE ROLE auditor NOLOGIN; CREATE ROLE writer LOGIN;
                   CREATE ROLE migrator LOGIN REPLICATION});
psql($src_super, 'CREATE DATABASE shop OWNER dbowner');
psql($src_admin, <<'SQL');
CREATE TABLE public.accounts (id serial PRIMARY KEY, name text, note text);
CREATE TABLE public.ledger (id bigint PRIMARY KEY, amount numeric, memo text);
CREATE SEQUENCE public.invoice_no;
ALTER TABLE public.accounts OWNER TO app;
ALTER TABLE public.ledger OWNER TO other;
ALTER SEQUENCE public.invoice_no OWNER TO other;
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON public.accounts FOR SELECT TO auditor USING (true);
CREATE POLICY writer_all ON public.accounts TO writer USING (true) WITH CHECK (true);
INSERT INTO public.accounts (name, note) SELECT 'n' || g, CASE WHEN g % 3 = 0 THEN 'null' END
  FROM generate_series(1, 3000) g;
INSERT INTO public.ledger SELECT g, g * 1.5, 'it''s ' || g FROM generate_series(1, 3000) g;
SELECT setval('public.invoice_no', 42);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.accounts, public.ledger TO writer;
GRANT USAGE ON SEQUENCE public.accounts_id_seq TO writer;
SQL
# exactly what README "Least privilege" lists for the source role
my @source_grants = (
    'GRANT SELECT ON public.accounts, public.ledger TO migrator',
    'GRANT SELECT ON SEQUENCE public.accounts_id_seq, public.invoice_no TO migrator',
    'GRANT CREATE ON DATABASE shop TO migrator',
    'GRANT app, other TO migrator',
    'GRANT dbowner TO migrator',
    'GRANT pg_signal_backend TO migrator',
);
psql($src_admin, $_) for @source_grants;

# The target: a database owned by a non-superuser, plus the one grant.
psql($tgt_super, 'CREATE ROLE tgt LOGIN CREATEDB CREATEROLE');
psql($tgt_super, 'CREATE DATABASE shop OWNER tgt');
psql($tgt_super, 'GRANT SET ON PARAMETER session_replication_role TO tgt');

my $pdir = tempdir(CLEANUP => 1);
my $plan = write_plan(<<'YAML', $pdir);
version: 1
name: privs
source:
  uri: ${SOURCE_URI}
target:
  uri: ${TARGET_URI}
schema:
  owners: target_role
  privileges: drop
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
cleanup:
  keep_state: true
YAML
my %env = (SOURCE_URI => $src_mig, TARGET_URI => $tgt_mig);

# Everything a run could leave on the target: relations, schemas, roles.
sub target_catalog {
    return psql($tgt_admin, q{SELECT
        (SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'),
        (SELECT string_agg(nspname, ',' ORDER BY 1) FROM pg_namespace),
        (SELECT string_agg(rolname, ',' ORDER BY 1) FROM pg_roles)});
}

sub checks_of {
    my ($out) = @_;
    my $doc = eval { decode_json($out) } or return {};
    my $checks = $doc->{preflight}{checks} // $doc->{checks} // [];
    return { map { $_->{name} => $_ } @$checks };
}

# plan must exit 2 with check $name FAILed, the hint naming the quoted role,
# and leave the target catalog as it was.
sub plan_fails_on {
    my ($name, $label, $hint_re) = @_;
    my $before = target_catalog();
    my $r = run_pgshift(\%env, 'plan', $plan, '--format', 'json');
    my $ck = checks_of($r->{out})->{$name};
    is($r->{rc}, 2, "$label: plan exits 2") or diag($r->{err});
    is($ck && $ck->{status}, 'FAIL', "$label: check $name FAILs")
        or diag($ck ? encode_json($ck) : "no check $name in: $r->{out}");
    like($ck && $ck->{hint} // '', $hint_re, "$label: the hint gives the fixing SQL")
        if $hint_re;
    is(target_catalog(), $before, "$label: the target catalog is unchanged");
}

# ---- 1. each privilege left out
my @source_cases = (
    ['replication_privilege', 'no REPLICATION', 'ALTER ROLE migrator NOREPLICATION',
     'ALTER ROLE migrator REPLICATION', qr/ALTER ROLE "migrator" REPLICATION/],
    ['source_select', 'no SELECT on public.ledger',
     'REVOKE other FROM migrator; REVOKE SELECT ON public.ledger FROM migrator',
     'GRANT SELECT ON public.ledger TO migrator; GRANT other TO migrator',
     qr/GRANT SELECT ON TABLE "public"\."ledger" TO "migrator"/],
    ['source_sequences', 'no SELECT on sequence public.invoice_no',
     'REVOKE other FROM migrator; REVOKE SELECT ON SEQUENCE public.invoice_no FROM migrator',
     'GRANT SELECT ON SEQUENCE public.invoice_no TO migrator; GRANT other TO migrator',
     qr/GRANT SELECT ON SEQUENCE "public"\."invoice_no" TO "migrator"/],
    ['publication_create', 'no CREATE on the source database',
     # the database owner's rights include CREATE: both go
     'REVOKE dbowner FROM migrator; REVOKE CREATE ON DATABASE shop FROM migrator',
     'GRANT CREATE ON DATABASE shop TO migrator; GRANT dbowner TO migrator',
     qr/GRANT CREATE ON DATABASE "shop" TO "migrator"/],
    ['publication_owner', 'not the owner of public.ledger', 'REVOKE other FROM migrator',
     'GRANT other TO migrator', qr/GRANT "other" TO "migrator"/],
    ['source_row_security', 'policies would hide rows of public.accounts from migrator',
     'REVOKE app FROM migrator', 'GRANT app TO migrator', qr/GRANT "app" TO "migrator" \(the owner/],
    ['target_row_security', 'FORCE ROW LEVEL SECURITY applies to tgt on the target',
     'ALTER TABLE public.accounts FORCE ROW LEVEL SECURITY',
     'ALTER TABLE public.accounts NO FORCE ROW LEVEL SECURITY', qr/ALTER ROLE "tgt" BYPASSRLS/],
    ['source_large_objects', 'a large object migrator may not read', 'SELECT lo_create(4242)',
     'SELECT lo_unlink(4242)', qr/GRANT SELECT ON LARGE OBJECT <oid> TO "migrator"/],
    ['target_extensions_create', 'an untrusted extension tgt may not create', 'CREATE EXTENSION dblink',
     'DROP EXTENSION dblink', qr/CREATE EXTENSION "dblink"/],
    ['fence_database_owner', 'not the database owner (fence_writes)', 'REVOKE dbowner FROM migrator',
     'GRANT dbowner TO migrator', qr/GRANT "dbowner" TO "migrator"/],
    ['fence_signal_backend', 'no pg_signal_backend (fence_writes)',
     'REVOKE pg_signal_backend FROM migrator', 'GRANT pg_signal_backend TO migrator',
     qr/GRANT pg_signal_backend TO "migrator"/],
);
# the auditor role the policy names is missing on the target at first
plan_fails_on('target_roles', 'policy to a role missing on the target', qr/CREATE ROLE "auditor"/);
psql($tgt_mig, 'CREATE ROLE auditor NOLOGIN; CREATE ROLE writer LOGIN');

for my $case (@source_cases) {
    my ($name, $label, $revoke, $grant, $hint) = @$case;
    psql($src_admin, $revoke);
    plan_fails_on($name, $label, $hint);
    psql($src_admin, $grant);
}

my @target_cases = (
    ['session_replication_role', 'no SET on session_replication_role',
     $tgt_super, 'REVOKE SET ON PARAMETER session_replication_role FROM tgt',
     'GRANT SET ON PARAMETER session_replication_role TO tgt',
     qr/GRANT SET ON PARAMETER session_replication_role TO "tgt"/],
    ['target_create', 'no CREATE on the target database', $tgt_admin,
     'REVOKE CREATE ON DATABASE shop FROM tgt', 'GRANT CREATE ON DATABASE shop TO tgt',
     qr/GRANT CREATE ON DATABASE "shop"\s+TO "tgt"/],
    ['target_schemas', 'public not writable on the target', $tgt_admin,
     'REVOKE CREATE ON SCHEMA public FROM pg_database_owner',
     'GRANT CREATE ON SCHEMA public TO pg_database_owner',
     qr/GRANT CREATE ON SCHEMA "public" TO "tgt"/],
    ['target_tables_writable', 'an existing target table owned by someone else', $tgt_admin,
     'CREATE TABLE public.ledger (id bigint PRIMARY KEY, amount numeric, memo text)',
     'DROP TABLE public.ledger',
     qr/GRANT INSERT, UPDATE, DELETE, TRUNCATE ON TABLE "public"\."ledger" TO "tgt"/],
);
for my $case (@target_cases) {
    my ($name, $label, $uri, $revoke, $grant, $hint) = @$case;
    psql($uri, $revoke);
    plan_fails_on($name, $label, $hint);
    psql($uri, $grant);
}

# apply refuses on the same preflight, before writing anything
{
    psql($tgt_super, 'REVOKE SET ON PARAMETER session_replication_role FROM tgt');
    my $before = target_catalog();
    my $r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 1, 'apply without SET on session_replication_role exits 1');
    like($r->{err}, qr/preflight FAIL session_replication_role/, 'apply names the failed check');
    is(target_catalog(), $before, 'apply refused before writing the target');
    psql($tgt_super, 'GRANT SET ON PARAMETER session_replication_role TO tgt');
}

# ---- 2. every grant: plan passes, online apply under writes, identical
{
    my $r = run_pgshift(\%env, 'plan', $plan, '--format', 'json');
    is($r->{rc}, 0, 'with exactly the README grants, plan finds nothing blocking')
        or diag($r->{out}, $r->{err});
    my $ck = checks_of($r->{out});
    my @priv = qw(replication_privilege source_select source_sequences publication_create
                  publication_owner fence_database_owner fence_signal_backend target_create
                  target_schemas session_replication_role target_tables_writable target_roles
                  source_row_security target_row_security owner_roles owner_membership
                  target_extensions_create);
    is(join(',', grep { ($ck->{$_}{status} // '') ne 'PASS' } @priv), '',
       'every privilege check PASSes');
    is($ck->{owner_membership}{observed} // '', 'every object will belong to the target login (schema.owners: target_role)',
       'owners: target_role needs no owner role on the target (owners.t keeps them)');

    my $stop = "$pdir/stop";
    my $wl = fork() // die;
    if ($wl == 0) {
        open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
        my $i = 0;
        # psql sessions of writer until stopped; fence_writes ends them and
        # the next ones are read-only, so nothing lands after the stop position
        while (!-e $stop) {
            open(my $ps, '|-', 'psql', '-X', '-q', '-d', $src_writer) or last;
            for (1 .. 50) {
                $i++;
                print $ps "INSERT INTO public.accounts (name, note) VALUES ('w$i', 'null');\n";
                print $ps "UPDATE public.ledger SET memo = 'u$i' WHERE id = " . (1 + $i % 3000) . ";\n";
                print $ps "DELETE FROM public.accounts WHERE id = " . (1 + $i % 3000) . ";\n" if $i % 7 == 0;
            }
            close($ps);
            sleep 0.05;
        }
        POSIX::_exit(0);
    }
    sleep 1;
    $r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
    my $fenced = psql($src_super, q{SELECT coalesce(array_to_string(setconfig, ','), '')
        FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = 'shop' AND s.setrole = 0});
    open(my $fh, '>', $stop); close($fh);
    waitpid($wl, 0);
    is($r->{rc}, 0, 'online apply with the non-superuser roles succeeds') or diag($r->{err});
    like($fenced, qr/default_transaction_read_only=on/, 'fence_writes made the source read-only');
    my $writes = psql($src_admin, "SELECT count(*) FROM public.accounts WHERE name LIKE 'w%'");
    ok($writes > 0, "the workload wrote during the run ($writes rows)");

    my @diff;
    my $tables = user_tables($src_admin);
    for my $t (@$tables) {
        my ($rows, $d) = compare_table($src_admin, $tgt_admin, @$t);
        push @diff, $d if $d;
    }
    ok(@$tables == 2 && !@diff, 'both tables identical on the target')
        or diag(join("\n", @diff));
    is(psql($tgt_admin, 'SELECT last_value FROM public.invoice_no'), '42', 'sequence moved');
    is(psql($tgt_admin, q{SELECT string_agg(polname || ':' || array_to_string(polroles::regrole[], ','), ' ' ORDER BY polname)
                          FROM pg_policy}), 'audit_read:auditor writer_all:writer', 'the policies exist, with their roles');
    $r = run_pgshift(\%env, 'verify', $plan, '--level', 'checksum');
    is($r->{rc}, 0, 'verify --level checksum finds the target identical') or diag($r->{out}, $r->{err});
    psql($src_super, 'ALTER DATABASE shop RESET default_transaction_read_only');
}

done_testing();
