# Online safety (DESIGN.md §4a, README "Online safety") through `pgshift plan`
# and `pgshift apply` on real servers:
#   1. replica_identity: fail with a DEFERRABLE-PK table and key-less tables:
#      plan exits 2 naming each table with its fixing SQL; apply is refused
#      with nothing written on either server.
#   2. an UNLOGGED table in an online plan: plan exits 2 naming it; apply
#      is refused with nothing written.
#   3. replica_identity: full, the unlogged table in exclude_table_data,
#      fence_writes of the role pgshift connects as: a concurrent
#      INSERT/UPDATE/DELETE loop on the key-less and deferrable-PK tables
#      runs while apply sets identities and creates the publication and
#      slot, and gets no error; the cutover completes, a sleeping session of
#      that role was ended, the target is identical; cleanup
#      --restore-identity puts the source identities back, twice safely.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(compare_table);

my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

psql($src, <<'SQL');
CREATE TABLE public.ukey (code int NOT NULL, v text);
CREATE UNIQUE INDEX ukey_code_key ON public.ukey (code);
CREATE UNIQUE INDEX ukey_partial ON public.ukey (v) WHERE v IS NOT NULL;
CREATE TABLE public.bare (a int, b text);
CREATE TABLE public.dpk (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text);
CREATE TABLE public.keyed (id int PRIMARY KEY, v text);
CREATE UNLOGGED TABLE public.scratch (id int PRIMARY KEY, v text);
INSERT INTO public.ukey SELECT g, NULL FROM generate_series(1, 2000) g;
INSERT INTO public.bare SELECT g % 500, 'b' || g FROM generate_series(1, 2000) g;
INSERT INTO public.dpk SELECT g, 'd' || g FROM generate_series(1, 2000) g;
INSERT INTO public.keyed SELECT g, 'k' || g FROM generate_series(1, 2000) g;
INSERT INTO public.scratch SELECT g, 's' || g FROM generate_series(1, 100) g;
SQL

sub plan_for {
    my ($name, %o) = @_;
    (my $uri = $tgt) =~ s{/postgres$}{/$name};
    psql($tgt, "CREATE DATABASE $name");
    my $filters = $o{exclude_scratch} ? "filters:\n  exclude_table_data: [public.scratch]\n" : '';
    my $path = write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
$filters
copy:
  vacuum_analyze: false
cdc:
  enabled: true
  replica_identity: $o{identity}
  max_lag: 2s
cutover:
  approval: manual
  steps:
    - fence_writes: { roles: [postgres] }
    - wait_for_catchup: { timeout: 60s }
    - verify: { level: count }
YAML
    return ($path, { SOURCE_URI => $src, TARGET_URI => $uri }, $uri);
}

sub nothing_written {
    my ($name, $uri, $label) = @_;
    is(psql($src, "SELECT count(*) FROM pg_publication WHERE pubname = 'pgshift_$name'"), '0', "$label: no publication on the source");
    is(psql($src, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_$name'"), '0', "$label: no slot on the source");
    is(psql($uri, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                . " WHERE n.nspname IN ('public', 'pgshift')"), '0', "$label: no table on the target");
    is(psql($uri, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0', "$label: no state schema on the target");
    is(psql($src, "SELECT string_agg(relname || '=' || relreplident::text, ',' ORDER BY relname) FROM pg_class"
                . " WHERE relname IN ('ukey', 'bare', 'dpk')"), 'bare=d,dpk=d,ukey=d', "$label: no identity changed on the source");
}

# ---- 1. replica_identity: fail: refused in preflight, with the fix
{
    my ($plan, $env, $uri) = plan_for('strict', identity => 'fail', exclude_scratch => 1);
    my $r = run_pgshift($env, 'plan', $plan);
    is($r->{rc}, 2, 'plan exits 2 for tables without a usable replica identity') or diag($r->{err});
    like($r->{out}, qr/FAIL\s+replica_identity/, 'the replica_identity check FAILs');
    like($r->{out}, qr/public\.dpk \(its primary key is DEFERRABLE[^)]*\): ALTER TABLE "public"\."dpk" REPLICA IDENTITY FULL;/,
         'it names the deferrable-PK table and the exact statement');
    like($r->{out}, qr/public\.ukey \(no primary key\): ALTER TABLE "public"\."ukey" REPLICA IDENTITY USING INDEX "ukey_code_key";/,
         'it proposes USING INDEX the suitable unique index (not the partial one)');
    like($r->{out}, qr/public\.bare \(no primary key\): ALTER TABLE "public"\."bare" REPLICA IDENTITY FULL;/,
         'and FULL for the table without any index');
    unlike($r->{out}, qr/public\.keyed \(/, 'the table with a primary key is not named');
    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 1, 'apply is refused');
    like($r->{err}, qr/preflight found \d+ blocking problem/, 'by the preflight');
    nothing_written('strict', $uri, 'refused apply');
}

# ---- 2. an UNLOGGED table in an online plan
{
    my ($plan, $env, $uri) = plan_for('unlogged', identity => 'full');
    my $r = run_pgshift($env, 'plan', $plan);
    is($r->{rc}, 2, 'plan exits 2 for an UNLOGGED table with CDC') or diag($r->{out});
    like($r->{out}, qr/FAIL\s+unlogged_tables\s+public\.scratch\n.*exclude_table_data.*SET LOGGED/,
         'it names the table and both ways out');
    like($r->{out}, qr/WARN\s+replica_identity/, 'with replica_identity: full the identities are a warning');
    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 1, 'apply is refused');
    nothing_written('unlogged', $uri, 'refused apply (unlogged)');
}

# The application: one psql session without ON_ERROR_STOP, its stderr kept:
# every error it gets is in the file.
sub start_app {
    my ($stop, $errfile) = @_;
    my $pid = fork() // die;
    return $pid if $pid;
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', $errfile);
    open(my $ps, '|-', 'psql', '-X', '-q', '-d', $src) or die;
    my $i = 0;
    while (!-e $stop) {
        my $k = 1 + $i % 2000;
        my $n = 100000 + $i;
        print $ps "UPDATE public.ukey SET v = 'u$i' WHERE code = $k;\n";
        print $ps "INSERT INTO public.ukey VALUES ($n, NULL);\n";
        print $ps "DELETE FROM public.ukey WHERE code = " . ($n - 1) . ";\n" if $i % 2;
        print $ps "UPDATE public.bare SET b = 'x$i' WHERE a = " . ($i % 500) . ";\n";
        print $ps "INSERT INTO public.bare VALUES ($n, 'n$i');\n";
        print $ps "DELETE FROM public.bare WHERE a = " . ($n - 2) . ";\n";
        print $ps "UPDATE public.dpk SET v = 'v$i' WHERE id = $k;\n";
        print $ps "INSERT INTO public.dpk VALUES ($n, 'n$i');\n";
        print $ps "DELETE FROM public.dpk WHERE id = " . ($n - 3) . ";\n";
        print $ps "UPDATE public.keyed SET v = 'k$i' WHERE id = $k;\n";
        $i++;
        sleep 0.002 if $i % 10 == 0;
    }
    print $ps "SELECT 1;\n";
    close($ps);
    POSIX::_exit(0);
}

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

sub wait_until {
    my ($cond, $secs, $pid) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $pid && waitpid($pid, 1) == $pid;
        sleep 0.1;
    }
    return 0;
}

sub identities {
    return psql($src, "SELECT string_agg(c.relname || '=' || c.relreplident::text || coalesce(':' || ("
        . "SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
        . " WHERE i.indrelid = c.oid AND i.indisreplident), ''), ',' ORDER BY c.relname)"
        . " FROM pg_class c WHERE c.relname IN ('ukey', 'bare', 'dpk', 'keyed')");
}

# ---- 3. the workload while apply sets identities and publishes; fence of pgshift's own role
{
    my ($plan, $env, $uri) = plan_for('safe', identity => 'full', exclude_scratch => 1);
    my $r = run_pgshift($env, 'plan', $plan);
    is($r->{rc}, 0, 'the online plan passes with scratch in exclude_table_data') or diag($r->{out});
    like($r->{out}, qr/WARN\s+fence_roles\s+fence_writes lists "postgres", the role pgshift connects to the source as/,
         'preflight warns that the fenced role is pgshift\'s own');
    like($r->{out}, qr/pgshift's own sessions are kept, but every other session of that role/, 'and what that means');

    my ($stop, $apperr) = ("$dir/stop", "$dir/app.err");
    my $app = start_app($stop, $apperr);
    sleep 1;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$dir/apply.out"); open(STDERR, '>', "$dir/apply.err");
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress') or die;
    }
    # the workload runs until the copy is over (identities, publication and slot long
    # set), then stops, so a loaded machine's applier can catch up with it
    ok(wait_until(sub { slurp("$dir/apply.err") =~ /cdc\.catchup: started/ }, 120, $pid),
       'apply sets up CDC and copies under the workload') or diag(slurp("$dir/apply.err"));
    sleep 1;
    open(my $fh, '>', $stop); close($fh);
    waitpid($app, 0);
    ok(wait_until(sub { slurp("$dir/apply.err") =~ /cutover gate: waiting for approval/ }, 180, $pid),
       'apply reaches the cutover gate') or diag(slurp("$dir/apply.err"));
    is(slurp($apperr), '', 'the application got no error at all while identities, publication and slot were set up');

    my $log = slurp("$dir/apply.err");
    like($log, qr/set REPLICA IDENTITY USING INDEX ukey_code_key on source table "public\.ukey"/, 'ukey got USING INDEX its unique index');
    like($log, qr/set REPLICA IDENTITY FULL on source table "public\.bare"/, 'bare got FULL');
    like($log, qr/set REPLICA IDENTITY FULL on source table "public\.dpk" \(was DEFAULT: its primary key is DEFERRABLE/, 'dpk got FULL');
    ok(index($log, 'REPLICA IDENTITY FULL on source table "public.dpk"') < index($log, 'publication "pgshift_safe" on the source'),
       'every identity was set before the publication was created');
    is(identities(), 'bare=f,dpk=f,keyed=d,ukey=i:ukey_code_key', 'the source identities as pgshift set them');
    is(psql($uri, "SELECT string_agg(table_name || ':' || old_identity::text || '>' || new_identity::text || coalesce(':' || new_index, ''), ',' ORDER BY table_name)"
                . " FROM pgshift.identity_changes WHERE plan = 'safe' AND restored_at IS NULL"),
       'bare:d>f,dpk:d>f,ukey:d>i:ukey_code_key', 'each change is recorded in the state on the target');

    # a session of the fenced role that is not pgshift's
    my $sleeper = fork() // die;
    if ($sleeper == 0) {
        open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
        $ENV{PGAPPNAME} = 'app_sleeper';
        exec('psql', '-X', '-q', '-d', $src, '-c', 'SELECT pg_sleep(300)') or die;
    }
    ok(wait_until(sub { psql($src, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'app_sleeper'") eq '1' }, 10),
       'another session of the fenced role runs');
    $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'pgshift cutover approves');
    is(finish_within($pid, 300), 0, 'apply completes the cutover with its own role fenced') or diag(`tail -20 $dir/apply.err`);
    $log = slurp("$dir/apply.err");
    like($log, qr/fence_writes: source database read-only for new sessions; ended [1-9]\d* session/, 'fence_writes ended sessions');
    ok(wait_until(sub { waitpid($sleeper, 1) == $sleeper }, 10), 'the other session of that role was ended');
    like($log, qr/wait_for_catchup: caught up/, 'the receiver survived the fence: catch-up reached the stop position');

    my @diff;
    for my $t (qw(ukey bare dpk keyed)) {
        my ($rows, $d) = compare_table($src, $uri, 'public', $t);
        push @diff, $d if $d;
    }
    ok(!@diff, 'the four tables are identical on the target (Compare.pm)') or diag(join("\n", @diff));
    is(psql($uri, "SELECT count(*) FROM public.scratch"), '0', 'the unlogged table moved without its rows (exclude_table_data)');
    like($log, qr/left the replica identity of 3 source table\(s\) changed: .*--restore-identity/,
         'the cleanup step says which identities it left and how to restore them');

    $r = run_pgshift($env, 'cleanup', $plan, '--unfence', '--restore-identity');
    is($r->{rc}, 0, 'cleanup --restore-identity succeeds') or diag($r->{err});
    is(identities(), 'bare=d,dpk=d,keyed=d,ukey=d', 'every source identity is back (relreplident)');
    is(psql($src, "SELECT count(*) FROM pg_index WHERE indisreplident AND indrelid = 'public.ukey'::regclass"), '0',
       'and ukey_code_key is no longer the identity index (indisreplident)');
    is(psql($uri, "SELECT (SELECT count(*) FROM pgshift.runs) + (SELECT count(*) FROM pgshift.identity_changes)"), '0',
       'the state, record included, is gone');
    ok(psql($uri, "SELECT count(*) FROM pgshift.manifest WHERE plan = 'safe'") > 0,
       'but not the manifest of what apply created: reset still drops it');
    $r = run_pgshift($env, 'cleanup', $plan, '--restore-identity');
    is($r->{rc}, 0, 'cleanup --restore-identity again is a no-op') or diag($r->{err});
    is(identities(), 'bare=d,dpk=d,keyed=d,ukey=d', 'identities unchanged');
}

done_testing();
