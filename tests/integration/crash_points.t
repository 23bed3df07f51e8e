# kill -9 at every named point of a run, then resume (DESIGN.md §4b, issue
# 13 "Done when"). The test-only crash hook (engine/util/test_crash.h:
# PGSHIFT_TEST_HOOKS=1 and PGSHIFT_TEST_CRASH_AT=POINT) makes apply SIGKILL
# itself at POINT while role app writes to the source. The workload stops,
# a few more writes land, and a plain `apply` resumes. After each resume:
#   - apply finished (exit 0) and the crash really came at POINT;
#   - every table is identical on source and target (PgShift::Compare);
#   - no copy of a table that was complete at the crash ran again: its
#     copy steps keep their attempt counts in pgshift.steps (the unit a
#     resume copies again is the table: a split table with a part left is
#     copied again whole, and only it);
#   - the replication slot is the original one: its directory in the
#     source's pg_replslot is the same inode, and the resume created no slot;
#   - a crash during the copy re-copies only the unfinished table, on a
#     temporary slot's snapshot, and says so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Compare qw(compare_tables);
use PgShift::Run;

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

sub db_uri { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }
sub app_uri { my ($uri) = @_; (my $u = $uri) =~ s{//postgres@}{//app@}; return $u; }
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

psql($src0, "CREATE ROLE app LOGIN");
# the roles the grants name exist on the target, as an operator creates them first
psql($tgt0, "CREATE ROLE app NOLOGIN");

my $schema = <<'SQL';
CREATE TABLE public.big (id int PRIMARY KEY, n int, pad text);
CREATE INDEX big_n_idx ON public.big (n);
CREATE TABLE public.small (id serial PRIMARY KEY, v text);
CREATE TABLE public.child (id int PRIMARY KEY, big_id int NOT NULL REFERENCES public.big (id), note text);
INSERT INTO public.big SELECT g, g % 97, repeat(md5(g::text), 6) FROM generate_series(1, 3000) g;
INSERT INTO public.small (v) SELECT 'small ' || g FROM generate_series(1, 300) g;
INSERT INTO public.child SELECT g, 1 + g % 3000, 'it''s ' || g FROM generate_series(1, 500) g;
GRANT ALL ON ALL TABLES IN SCHEMA public TO app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;
ANALYZE;
SQL

sub plan_yaml {
    my ($name) = @_;
    return <<"YAML";
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy:
  table_jobs: 1
  index_jobs: 1
  split_tables_larger_than: 128kB
  split_max_parts: 3
  vacuum_analyze: true
cdc:
  enabled: true
  max_lag: 1s
cutover:
  approval: manual
  steps:
    - fence_writes: { roles: [app] }
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
cleanup:
  drop_slot: false
  keep_state: true
YAML
}

# Role app writes one statement per transaction until told to stop or
# until fence_writes ends its session.
sub start_workload {
    my ($uri, $stop, $base) = @_;
    my $pid = fork() // die;
    return $pid if $pid;
    open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
    $SIG{PIPE} = sub { POSIX::_exit(0) };
    open(my $ps, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $uri) or POSIX::_exit(2);
    for (my $i = 0; !-e $stop; $i++) {
        my $id = $base + $i;
        print $ps "INSERT INTO public.big VALUES ($id, $i % 97, md5('$i'));\n";
        print $ps "UPDATE public.big SET pad = 'w$i', n = n + 1 WHERE id = " . (1 + $i * 37 % 3000) . ";\n";
        print $ps "INSERT INTO public.small (v) VALUES ('it''s $i');\n";
        print $ps "DELETE FROM public.small WHERE id = " . (1 + $i * 13 % 300) . ";\n";
        print $ps "INSERT INTO public.child VALUES ($id, " . (1 + $i % 3000) . ", NULL);\n";
        print $ps "UPDATE public.child SET note = 'null' WHERE id = " . (1 + $i % 500) . ";\n";
        sleep 0.01;
    }
    close($ps);
    POSIX::_exit(0);
}

sub stop_workload {
    my ($pid, $stop) = @_;
    open(my $fh, '>', $stop); close($fh);
    waitpid($pid, 0);
}

sub start_apply {
    my ($env, $plan, $log, @extra) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress', @extra) or POSIX::_exit(99);
    }
    return $pid;
}

# step id => "status attempts" of the plan's steps
sub steps_of {
    my ($tgt, $name) = @_;
    my %s;
    for (split /\n/, psql($tgt, "SELECT step_id || '|' || status || '|' || attempts FROM pgshift.steps WHERE plan = '$name'")) {
        my ($id, $st, $n) = split /\|/;
        $s{$id} = [$st, $n];
    }
    return \%s;
}

# tables whose every copy step is done: all N parts of a split one (a step
# that never started, or whose start was still queued, has no row)
sub complete_tables {
    my ($steps) = @_;
    my (%t, %parts, %done);
    for my $id (grep { /^copy:/ } keys %$steps) {
        my ($table, $n) = $id =~ /^copy:([^#]+)(?:#\d+\/(\d+))?$/;
        $t{$table} //= 1;
        $parts{$table} = $n // 1;
        $done{$table}++ if $steps->{$id}[0] eq 'done';
        $t{$table} = 0 if $steps->{$id}[0] ne 'done';
    }
    return grep { $t{$_} && $done{$_} == $parts{$_} } keys %t;
}

sub slot_inode {
    my ($slot) = @_;
    my @st = stat("$c->{dir}/source/pg_replslot/$slot");
    return @st ? $st[1] : undef;
}

my @points = (
    ['after:schema.pre',                          'schema.pre'],
    ['copy.mid:copy:public.big#2/3',              'mid-COPY of a split table'],
    ['before:copy:public.big#3/3',                'between copy parts'],
    ['copy.mid:copy:public.child',                'mid-COPY of a table, the split table complete'],
    ['copy.mid:copy:public.small',                'mid-COPY of the last table'],
    ['after:index:public.big_n_idx',              'index build'],
    ['after:constraint:public.child.child_big_id_fkey', 'constraint build'],
    ['after:vacuum:public.big',                   'vacuum'],
    ['cdc.applied',                               'cdc.catchup under a write load'],
    ['cutover.gate.waiting',                      'at the gate'],
    ['after:cutover.1:fence_writes',              'fence_writes'],
    ['after:cutover.2:wait_for_catchup',          'wait_for_catchup'],
    ['after:cutover.3:sync_sequences',            'sync_sequences'],
    ['after:cutover.4:verify',                    'verify'],
    ['after:cleanup',                             'cleanup'],
);

my $n = 0;
for my $p (@points) {
    my ($point, $what) = @$p;
    my $name = 'cp_' . ++$n;
    my $slot = "pgshift_$name";
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (db_uri($src0, $name), db_uri($tgt0, $name));
    psql($src, $schema);
    my $plan = write_plan(plan_yaml($name), tempdir(CLEANUP => 1));
    my $env = { SOURCE_URI => $src, TARGET_URI => $tgt };
    my $stop = "$dir/$name.stop";

    my $wl = start_workload(app_uri($src), $stop, 100_000);
    my $log1 = "$dir/$name.1.err";
    my $pid = start_apply({ %$env, PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_CRASH_AT => $point }, $plan, $log1,
                          $point eq 'cutover.gate.waiting' ? () : ('--approve'));
    my $t0 = time;
    waitpid($pid, 0);
    my $sig = $? & 127;
    stop_workload($wl, $stop);
    is($sig, 9, "$what: apply was killed by SIGKILL") or diag(`tail -20 $log1`);
    like(slurp($log1), qr/test crash point "\Q$point\E" reached/, "$what: at the point $point");

    # writes between the crash and the resume (before a re-copy's snapshot);
    # once fence_writes ran the source takes none
    psql(app_uri($src), "INSERT INTO public.big VALUES (900000, 1, 'after the crash');"
         . " UPDATE public.big SET pad = 'moved' WHERE id = 2; DELETE FROM public.child WHERE id = 3")
        unless $point =~ /^after:(cutover|cleanup)/;
    my $before = steps_of($tgt, $name);
    my @complete = complete_tables($before);
    my $inode = slot_inode($slot);

    my $log2 = "$dir/$name.2.err";
    $pid = start_apply($env, $plan, $log2, '--approve');
    waitpid($pid, 0);
    is($? >> 8, 0, "$what: the resume finishes") or diag(`tail -30 $log2`);
    my $resume = slurp($log2);

    my @diff = grep { defined $_->[2] } compare_tables($src, $tgt);
    ok(!@diff, "$what: every table identical on source and target") or diag(join("\n", map { $_->[2] } @diff));

    my $after = steps_of($tgt, $name);
    my @again = grep { my $t = $_; grep { /^copy:\Q$t\E(#|$)/ && $after->{$_}[1] != $before->{$_}[1] } keys %$after } @complete;
    is("@again", '', "$what: no table whose copy was complete at the crash (@{[ scalar @complete ]}) was copied again");

    if (defined $inode) {
        is(slot_inode($slot), $inode, "$what: the replication slot is the original one (same pg_replslot entry)");
        unlike($resume, qr/created replication slot/, "$what: the resume created no replication slot");
    } else {
        like($resume, qr/created replication slot "\Q$slot\E"/, "$what: no slot at the crash: the resume created it");
    }
    if ($point =~ /^(copy\.mid|before):copy:/) {
        my %done = map { $_ => 1 } @complete;
        my @left = grep { !$done{$_} } qw(public.big public.child public.small);
        my $list = join(', ', @left);
        like($resume, qr/resume: copying again only \Q$list\E, on the snapshot \S+ of temporary slot "\Q${slot}_sync\E"/,
             "$what: only the unfinished tables ($list) are copied again, on a temporary slot's snapshot");
        is(psql($tgt, "SELECT string_agg(schema_name || '.' || table_name, ', ' ORDER BY 1) FROM pgshift.table_sync WHERE plan = '$name'"),
           $list, "$what: their sync point is recorded, and only theirs");
        unlike($resume, qr/every table copied/, "$what: the resume does not start the copy over");
    }
    if ($point eq 'after:cleanup') {
        # the cleanup that died had removed the spool: nothing is streamed into a new one
        unlike($resume, qr/cdc: (receiving|applying)/, "$what: the resume starts no receiver and no applier");
        ok(!-e dirname($plan) . "/.pgshift/$name/spool", "$what: the spool directory stays removed");
    }
    note(sprintf('%s: %.1f s', $what, time - $t0));
    psql($src0, "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot'");
}

done_testing();
