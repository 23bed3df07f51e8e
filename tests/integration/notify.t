# Notifications end to end: an offline apply on real servers with a signed
# webhook, a Slack target, a target that answers 429 with Retry-After and
# one that is not there at all, all pointed at a local receiver. Checks
# every event of the run in order, the payloads, the Standard Webhooks
# signature (recomputed here, independently of the C code), the Slack
# shape and escaping, retries with the same webhook-id, and that the dead
# endpoint neither fails the run nor holds it up beyond its timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Digest::SHA qw(hmac_sha256_base64);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;

my $dir = tempdir(CLEANUP => 1);
my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});

# the receiver
my $reqdir = "$dir/requests";
mkdir $reqdir or die;
my $rpid = fork() // die;
if ($rpid == 0) {
    exec($^X, "$FindBin::Bin/../lib/http_receiver.pl", '--dir', $reqdir, '--port-file', "$dir/port") or die;
}
END { kill 'TERM', $rpid if $rpid; }
my $deadline = time + 10;
sleep 0.05 until -s "$dir/port" || time > $deadline;
open(my $pf, '<', "$dir/port") or die "receiver did not start";
chomp(my $port = <$pf>);
close $pf;

# a port nobody listens on: bound once, then let go
my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
my $dead_port = $probe->sockport;
close $probe;

psql($src, <<'SQL');
CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL);
CREATE INDEX items_name_idx ON public.items (name);
CREATE TABLE public."odd<&>name" (id int PRIMARY KEY);
INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 2000) g;
INSERT INTO public."odd<&>name" SELECT g FROM generate_series(1, 10) g;
ANALYZE;
SQL
psql($dst, "CREATE DATABASE baseline");
(my $baseline_uri = $dst) =~ s{/([^/?]+)(\?|$)}{/baseline$2};

my $secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
my %env = (SOURCE_URI => $src, TARGET_URI => $dst, HOOK_SECRET => $secret);

sub plan_yaml {
    my ($name, $notify) = @_;
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
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
cleanup:
  keep_state: true
$notify
YAML
}

my $notify = <<"YAML";
notify:
  - kind: webhook
    url: http://127.0.0.1:$port/fail500/2/hook
    secret: \${HOOK_SECRET}
  - kind: slack
    url: http://127.0.0.1:$port/ok/services/T000/B000/SLACKTOKEN
  - kind: webhook
    url: http://127.0.0.1:$port/r429/1/2/limited
    on: [run.started]
  - kind: webhook
    url: http://127.0.0.1:$dead_port/dead/DEADTOKEN
    on: ["*"]
YAML

mkdir "$dir/a"; mkdir "$dir/b";
my $r = run_pgshift({}, 'validate', write_plan(plan_yaml('bad', "notify:\n  - {kind: webhook, url: \"http://exa mple.com/\"}\n"), "$dir/a"));
is($r->{rc}, 3, 'validate refuses a notification URL curl cannot parse') or diag($r->{err});
like($r->{err}, qr/notify\[1\]\.url: not a URL curl can parse/, 'and says which');

# the same migration without notifications, into another database: how long a run takes
my $t0 = time;
$r = run_pgshift({ %env, TARGET_URI => $baseline_uri }, 'apply', write_plan(plan_yaml('notified', ''), "$dir/a"), '--yes', '--no-progress');
my $baseline = time - $t0;
is($r->{rc}, 0, 'baseline apply without notifications') or diag($r->{err});

my $plan = write_plan(plan_yaml('notified', $notify), "$dir/b");
$r = run_pgshift(\%env, 'validate', $plan);
is($r->{rc}, 0, 'validate accepts the notification targets') or diag($r->{err});
$t0 = time;
$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
my $elapsed = time - $t0;
is($r->{rc}, 0, 'apply succeeds although one endpoint is unreachable') or diag($r->{err});
cmp_ok($elapsed, '<', $baseline + 10 + 3,
       sprintf('the dead endpoint holds the run up by less than its 10 s timeout (%.1f s vs %.1f s)', $elapsed, $baseline));
my @dead_warnings = $r->{err} =~ /(could not deliver .*127\.0\.0\.1:$dead_port.*)/g;
is(scalar @dead_warnings, 1, 'the unreachable endpoint is logged once') or diag($r->{err});
unlike($r->{err}, qr/DEADTOKEN|SLACKTOKEN|fail500|MfKQ9r8G/, 'no URL path, token or secret in the logs');

# the requests, in arrival order
my @reqs;
for my $f (sort glob("$reqdir/*.json")) {
    open(my $fh, '<', $f) or die; local $/; push @reqs, decode_json(<$fh>); close $fh;
}
my @hook = grep { $_->{path} eq '/fail500/2/hook' } @reqs;
my @slack = grep { $_->{path} =~ m{^/ok/services/} } @reqs;
my @limited = grep { $_->{path} eq '/r429/1/2/limited' } @reqs;

# retries after 500: the first event three times, one id
is_deeply([map { $_->{status} } @hook[0..2]], [500, 500, 200], 'the webhook answered 500 twice, then 200');
is(scalar(grep { $_->{headers}{'webhook-id'} eq $hook[0]{headers}{'webhook-id'} } @hook[0..2]), 3,
   'every retry carries the same webhook-id');
is($hook[0]{body}, $hook[2]{body}, 'and the same body');
my @delivered = grep { $_->{status} == 200 } @hook;
my %ids = map { $_->{headers}{'webhook-id'} => 1 } @delivered;
is(scalar keys %ids, scalar @delivered, 'each event has its own webhook-id');

# the events of the run
my @events = map { decode_json($_->{body})->{event} } @delivered;
my @expected = qw(run.started preflight.started preflight.finished schema.started
    copy.started copy.table.finished copy.table.finished copy.finished
    index.started index.finished constraint.started constraint.finished
    vacuum.started vacuum.finished schema.finished
    cutover.started sequences.started sequences.finished verify.started verify.finished
    cutover.finished cleanup.started cleanup.finished run.finished);
is_deeply([sort @events], [sort @expected], 'every event of the run arrives exactly once')
    or diag(join(' ', @events));
is($events[0], 'run.started', 'run.started comes first');
is($events[-1], 'run.finished', 'run.finished comes last');
my %pos; $pos{$events[$_]} //= $_ for 0..$#events;
my @order = qw(preflight schema copy index constraint cutover sequences verify cleanup);
for my $i (0..$#order - 1) {
    ok($pos{"$order[$i].started"} < $pos{"$order[$i+1].started"}, "$order[$i] starts before $order[$i+1]");
}
for my $s (@order, 'vacuum') {
    ok($pos{"$s.started"} < $pos{"$s.finished"}, "$s: started before finished");
}
my @tables = grep { $events[$_] eq 'copy.table.finished' } 0..$#events;
ok($pos{'copy.started'} < $tables[0] && $tables[-1] < $pos{'copy.finished'}, 'copy.table.finished between copy.started and copy.finished');
ok($pos{'sequences.finished'} < $pos{'verify.started'} && $pos{'verify.finished'} < $pos{'cutover.finished'},
   'sequences and verify run inside the cutover, in plan order');

# payloads and signatures
my ($key) = decode_base64(substr($secret, 6));
my ($run_id, $bad_sig, $bad_hdr, $bad_shape) = (undef, 0, 0, 0);
for my $q (@delivered) {
    my $h = $q->{headers};
    my $p = decode_json($q->{body});
    my $want = hmac_sha256_base64("$h->{'webhook-id'}.$h->{'webhook-timestamp'}.$q->{body}", $key);
    $want .= '=' while length($want) % 4;
    $bad_sig++ unless $h->{'webhook-signature'} eq "v1,$want";
    $bad_hdr++ unless $h->{'x-pgshift-event'} eq $p->{event} && abs($h->{'webhook-timestamp'} - $q->{at}) < 60
        && $h->{'content-type'} eq 'application/json';
    $bad_shape++ unless join(',', sort keys %$p) eq 'at,data,event,plan,run_id,step'
        && $p->{plan} eq 'notified' && $p->{at} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    $run_id //= $p->{run_id};
    $bad_shape++ unless $p->{run_id} eq $run_id;
}
is($bad_sig, 0, 'every webhook-signature verifies (HMAC-SHA256 recomputed in Perl)');
is($bad_hdr, 0, 'X-Pgshift-Event names the event; webhook-timestamp is the time of sending');
is($bad_shape, 0, 'every body is {event, plan, run_id, step, at, data} of one run');
is($run_id, psql($dst, "SELECT run_id FROM pgshift.runs ORDER BY started_at DESC LIMIT 1"), 'run_id is the run in the state');
my %by = map { my $p = decode_json($_->{body}); ($p->{event} eq 'copy.table.finished' ? "$p->{event}:$p->{data}{table}" : $p->{event}) => $p } @delivered;
my $items = $by{'copy.table.finished:public.items'};
ok($items, 'copy.table.finished for public.items') or diag(join ' ', keys %by);
is($items->{data}{rows}, 2000, 'with its rows');
cmp_ok($items->{data}{bytes}, '>', 0, 'and bytes');
like($items->{step}, qr/^copy:public\.items/, 'and the copy step');
ok(exists $by{'copy.table.finished:public.odd<&>name'}, 'the odd table too, its name as is');
is($by{'run.started'}{step}, undef, 'run.started has no step');
ok(defined $by{'run.finished'}{data}{duration_s}, 'run.finished carries the duration');
is($by{'index.started'}{step}, 'index:public.items_name_idx', 'index.started names the step that began it');
is($by{'sequences.started'}{step}, 'cutover.1:sync_sequences', 'sequences is the sync_sequences cutover step');

# Slack
is(scalar @slack, scalar @expected, 'Slack got every event');
my ($bad_slack, $raw) = (0, 0);
for my $q (@slack) {
    my $p = decode_json($q->{body});
    $bad_slack++ unless join(',', sort keys %$p) eq 'blocks,text' && ref $p->{blocks} eq 'ARRAY'
        && $p->{blocks}[0]{type} eq 'section' && $p->{blocks}[0]{text}{type} eq 'mrkdwn'
        && length($p->{blocks}[0]{text}{text}) < 3000 && $p->{text} =~ /^pgshift notified: /;
    $raw++ if grep { /[<>]/ } $p->{text}, map { $_->{text}{text} } @{ $p->{blocks} };
    ok(!exists $q->{headers}{'webhook-signature'}, 'Slack requests are not signed') if $q == $slack[0];
}
is($bad_slack, 0, 'every Slack message is {text, blocks} with mrkdwn sections under 3,000 characters');
is($raw, 0, 'no raw < or > in any Slack text');
my ($odd) = grep { $_->{body} =~ /odd/ } @slack;
like(decode_json($odd->{body})->{blocks}[0]{text}{text}, qr/\*table:\* public\.odd&lt;&amp;&gt;name/, 'a table name is escaped (&amp; &lt; &gt;)');
like(decode_json($odd->{body})->{blocks}[0]{text}{text}, qr/\*rows:\* 10\b/, 'Slack shows the rows');

# 429 with Retry-After: 2
is_deeply([map { $_->{status} } @limited], [429, 200], 'the 429 target: one refusal, then delivered');
cmp_ok($limited[1]{at} - $limited[0]{at}, '>=', 1.9, 'the retry waited for Retry-After (2 s)');
is(decode_json($limited[1]{body})->{event}, 'run.started', 'and only the event it subscribed to');

# a hook's pgshift.notify(text) reaches every target, whatever its on: globs
psql($dst, "CREATE DATABASE hooked");
(my $hooked_uri = $dst) =~ s{/([^/?]+)(\?|$)}{/hooked$2};
mkdir "$dir/c"; mkdir "$dir/c/hooks";
open(my $hf, '>', "$dir/c/hooks/say.lua") or die;
print $hf "return function(event, ctx) pgshift.notify(\"rows <ok> & done: \" .. ctx.step) end\n";
close $hf;
(my $hooked_plan_text = plan_yaml('hooked', <<"YAML")) =~ s{    - sync_sequences: \{ margin: 0 \}\n}{    - lua: hooks/say.lua\n    - sync_sequences: { margin: 0 }\n};
notify:
  - kind: webhook
    url: http://127.0.0.1:$port/ok/said
    on: [run.finished]
  - kind: slack
    url: http://127.0.0.1:$port/ok/services/said
    on: [run.finished]
YAML
$r = run_pgshift({ %env, TARGET_URI => $hooked_uri }, 'apply', write_plan($hooked_plan_text, "$dir/c"), '--yes', '--no-progress');
is($r->{rc}, 0, 'an apply whose cutover hook calls pgshift.notify') or diag($r->{err});
my (@said, @said_slack);
for my $f (sort glob("$reqdir/*.json")) {
    open(my $fh, '<', $f) or die; local $/; my $q = decode_json(<$fh>); close $fh;
    push @said, decode_json($q->{body}) if $q->{path} eq '/ok/said';
    push @said_slack, $q->{body} if $q->{path} eq '/ok/services/said';
}
my ($note) = grep { $_->{event} eq 'hook.notify' } @said;
ok($note, 'the webhook received a hook.notify event although it subscribed to run.finished only');
is($note && $note->{data}{text}, 'rows <ok> & done: cutover.1:lua', 'carrying the hook\'s text');
is($note && $note->{step}, 'cutover.1:lua', 'and the step that said it');
ok((grep { /rows &lt;ok&gt; &amp; done/ } @said_slack), 'Slack gets the text, escaped');

# Row values stay out of notifications unless a target opts in. A cutover
# hook deletes a row on the target and updates it on the source; the
# applier finds no row for the update and fails the run naming its key,
# an e-mail address, in the error's detail.
psql($src, "CREATE DATABASE leaky");
psql($dst, "CREATE DATABASE leaky");
(my $leaky_src = $src) =~ s{/([^/?]+)(\?|$)}{/leaky$2};
(my $leaky_dst = $dst) =~ s{/([^/?]+)(\?|$)}{/leaky$2};
psql($leaky_src, <<'SQL');
CREATE TABLE public.people (email text PRIMARY KEY, n int NOT NULL);
INSERT INTO public.people VALUES ('alice.secret@example.com', 1), ('bob@example.com', 2);
SQL
mkdir "$dir/d"; mkdir "$dir/d/hooks";
open($hf, '>', "$dir/d/hooks/diverge.lua") or die;
print $hf <<'LUA';
return function(event, ctx)
  pgshift.query("target", "DELETE FROM public.people WHERE email = $1", "alice.secret@example.com")
  pgshift.query("source", "UPDATE public.people SET n = n + 1 WHERE email = $1", "alice.secret@example.com")
end
LUA
close $hf;
my $leaky_plan = write_plan(<<"YAML", "$dir/d");
version: 1
name: leaky
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy: { table_jobs: 1, index_jobs: 1 }
cdc: { enabled: true, max_lag: 1s }
cutover:
  approval: auto
  steps:
    - lua: hooks/diverge.lua
    - wait_for_catchup: { timeout: 30s }
cleanup:
  keep_state: true
notify:
  - kind: webhook
    url: http://127.0.0.1:$port/ok/private
    on: [run.failed]
  - kind: slack
    url: http://127.0.0.1:$port/ok/services/private
    on: [run.failed]
  - kind: webhook
    url: http://127.0.0.1:$port/ok/values
    on: [run.failed]
    include_values: true
YAML
$r = run_pgshift({ SOURCE_URI => $leaky_src, TARGET_URI => $leaky_dst }, 'apply', $leaky_plan,
                 '--yes', '--no-progress');
isnt($r->{rc}, 0, 'the apply whose target lost a row fails');
like($r->{err}, qr/alice\.secret\@example\.com/, 'its log on stderr names the key');
my %leak;
for my $f (sort glob("$reqdir/*.json")) {
    open(my $fh, '<', $f) or die; local $/; my $q = decode_json(<$fh>); close $fh;
    push @{ $leak{$q->{path}} }, $q->{body} if $q->{path} =~ m{/(?:private|values)$};
}
for my $path ('/ok/private', '/ok/services/private') {
    my @bodies = @{ $leak{$path} // [] };
    is(scalar(@bodies), 1, "$path received run.failed");
    ok(@bodies && $bodies[0] =~ /matched on the target/, "$path: with the error") or diag(@bodies);
    ok(!(grep { /alice|secret\@/ } @bodies), "$path: without the key's value") or diag(@bodies);
}
my ($with) = map { decode_json($_) } @{ $leak{'/ok/values'} // [] };
like($with && $with->{data}{error_detail} // '', qr/alice\.secret\@example\.com/,
     'a target with include_values: true gets the key in error_detail');

done_testing();
