# pgshift validate: exit 0 and a summary for a valid plan, exit 3 with every
# error as FILE:LINE:COL for an invalid one, and no password ever printed,
# whether it is written in the plan or comes from the environment.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Run;

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/hooks" or die "$dir/hooks: $!";
for my $hook (qw(pause_writes switch_traffic annotate)) {
    open(my $fh, '>', "$dir/hooks/$hook.lua") or die;
    print $fh "return function(event, ctx) end\n";
    close $fh;
}

# The plan of DESIGN.md §2, secrets from the environment.
my $example = <<'YAML';
version: 1
name: app_to_new_cluster
source:
  uri: ${SOURCE_URI}
target:
  uri: ${TARGET_URI}
filters:
  include_schemas: [public, billing]
  exclude_tables: ["public.tmp_*"]
  exclude_table_data: ["public.sessions"]
copy:
  table_jobs: 6
  split_tables_larger_than: 512MB
cdc:
  max_lag: 2s
cutover:
  approval: manual
  steps:
    - lua: hooks/pause_writes.lua
    - fence_writes: { roles: [app] }
    - wait_for_catchup: { timeout: 5m }
    - sync_sequences: { margin: 1000 }
    - verify: { level: count }
    - lua: hooks/switch_traffic.lua
hooks:
  lua:
    - file: hooks/annotate.lua
      on: ["copy.*", "cutover.*"]
notify:
  - kind: slack
    url: ${SLACK_WEBHOOK_URL}
  - kind: webhook
    url: ${DEPLOY_HOOK_URL}
    secret: ${DEPLOY_HOOK_SECRET}
YAML

my %env = (
    SOURCE_URI => 'postgres://app@db1:5432/app',
    TARGET_URI => 'host=db2 dbname=app user=app',
    SLACK_WEBHOOK_URL => 'https://hooks.slack.com/services/T/B/X',
    DEPLOY_HOOK_URL => 'https://deploy.example.com/hook',
    DEPLOY_HOOK_SECRET => 'whsec_c2VjcmV0',
);

my $plan = write_plan($example, $dir);
my $r = run_pgshift(\%env, 'validate', $plan);
is($r->{rc}, 0, 'a valid plan exits 0');
is($r->{err}, '', 'a valid plan without literal secrets prints nothing on stderr');
is($r->{out}, <<"OUT", 'the summary on stdout says what the plan will do');
plan "app_to_new_cluster" is valid ($plan)
  source:  postgres://app\@db1:5432/app
  target:  host=db2 dbname=app user=app
  schema:  owners kept, privileges kept, roles required
  copy:    6 table jobs, 4 index jobs, auto format, split tables above 512.0 MB into up to 8 parts
  cdc:     slot pgshift_app_to_new_cluster, publication pgshift_app_to_new_cluster, caught up below 2s lag
  cutover: manual approval; 1:lua 2:fence_writes 3:wait_for_catchup 4:sync_sequences 5:verify 6:lua
  hooks:   1 Lua hook(s); notify: 2 target(s)
OUT

delete local $ENV{SOURCE_URI};
my %no_source = %env;
delete $no_source{SOURCE_URI};
$r = run_pgshift(\%no_source, 'validate', $plan);
is($r->{rc}, 3, 'an unset ${VAR} makes the plan invalid (exit 3)');
like($r->{err}, qr/^\Q$plan\E:4:8: error: source.uri: environment variable "SOURCE_URI" is not set/m,
     'the unset variable is named with its line');

# Several errors: all reported, in file order, as FILE:LINE:COL.
my $bad = write_plan(<<'YAML', $dir);
version: 1
name: App
source: {uri: "postgres://db1/app"}
target: {uri: "postgres://db2/app"}
copy:
  tabel_jobs: 4
  split_tables_larger_than: 10gb
cdc:
  max_lag: 10
cutover:
  steps:
    - wait_for_catchpu: {}
    - lua: hooks/missing.lua
YAML
$r = run_pgshift({}, 'validate', $bad);
is($r->{rc}, 3, 'an invalid plan exits 3');
is($r->{out}, '', 'nothing on stdout for an invalid plan');
is($r->{err}, <<"ERR", 'every error on stderr as FILE:LINE:COL, in file order');
$bad:2:7: error: name: "App" is not a valid name; use lowercase letters, digits and _ only
$bad:6:3: error: unknown key "tabel_jobs" in copy; did you mean "table_jobs"?
$bad:7:29: error: copy.split_tables_larger_than: invalid size "10gb": expected a size such as 512MB or 10GB (units: B, kB, MB, GB, TB)
$bad:9:12: error: cdc.max_lag: invalid duration "10": expected a duration such as 500ms, 30s, 5m or 2h (units: ms, s, m, h)
$bad:12:7: error: cutover.steps[1]: unknown cutover step "wait_for_catchpu"; did you mean "wait_for_catchup"?
$bad:13:12: error: cutover.steps[2]: hook file "$dir/hooks/missing.lua" does not exist or cannot be read
pgshift: error: $bad: 6 error(s); the plan is not valid
ERR

$r = run_pgshift({}, 'validate', "$dir/nonexistent.yaml");
is($r->{rc}, 3, 'a missing plan file exits 3');
like($r->{err}, qr/^\Q$dir\E\/nonexistent.yaml: error: could not open plan file: No such file or directory$/m,
     'a missing plan file is named with the reason');

# No password reaches stdout or stderr, whatever its form and however the
# plan fails. The secret is distinctive so a partial leak is found too.
my $secret = 'Zq7hunter2Xk';
my $warning = 'source.uri holds a literal password; take it from the environment';

my @uris = (
    # [ what, uri as written in YAML (double-quoted), literal?, expected redacted source ]
    ['URI userinfo', "postgres://app:$secret\@db1:5432/app", 1, 'postgres://app:***@db1:5432/app'],
    ['password= query parameter', "postgres://app\@db1/app?sslmode=require&password=$secret", 1,
     'postgres://app@db1/app?sslmode=require&password=***'],
    ['key=value password', "host=db1 user=app password=$secret dbname=app", 1,
     'host=db1 user=app password=*** dbname=app'],
    ['quoted key=value password', "host=db1 password='$secret and more' dbname=app", 1,
     'host=db1 password=*** dbname=app'],
    ['password in a ${VAR:-default}', "postgres://app:\${PGSHIFT_TEST_NO_PW:-$secret}\@db1/app", 1,
     'postgres://app:***@db1/app'],
    ['password from ${VAR}', 'postgres://app:${PGSHIFT_TEST_PW}@db1/app', 0, 'postgres://app:***@db1/app'],
    ['whole URI from ${VAR}', '${PGSHIFT_TEST_URI}', 0, 'postgres://app:***@db1/app?password=***'],
    ['quoted password from ${VAR}', "host=db1 password='\${PGSHIFT_TEST_PW}'", 0, 'host=db1 password=***'],
);
my %secret_env = (
    PGSHIFT_TEST_PW => $secret,
    PGSHIFT_TEST_URI => "postgres://app:$secret\@db1/app?password=$secret",
);
delete $ENV{PGSHIFT_TEST_NO_PW};
my @flag_sets = ([], ['--log-format', 'json'], ['-v'], ['--log-format', 'json', '-v']);

sub no_secret {
    my ($res, $what) = @_;
    unlike($res->{out}, qr/\Q$secret\E/, "$what: secret not on stdout");
    unlike($res->{err}, qr/\Q$secret\E/, "$what: secret not on stderr");
}

for my $case (@uris) {
    my ($what, $uri, $literal, $redacted) = @$case;
    my $valid = write_plan(<<"YAML", $dir);
version: 1
name: app
source: {uri: "$uri"}
target: {uri: "postgres://db2/app"}
notify:
  - {kind: webhook, url: "https://example.com/h", secret: "whsec_$secret"}
YAML
    for my $flags (@flag_sets) {
        my $label = "$what, valid plan" . (@$flags ? " (@$flags)" : '');
        my $res = run_pgshift(\%secret_env, @$flags, 'validate', $valid);
        is($res->{rc}, 0, "$label: exits 0");
        no_secret($res, $label);
        like($res->{out}, qr/^  source:  \Q$redacted\E$/m, "$label: summary shows the password as ***");
        if ($literal) {
            like($res->{err}, qr/^\Q$valid\E:3:15: warning: \Q$warning\E/m, "$label: literal password warned about");
        } else {
            unlike($res->{err}, qr/literal password/, "$label: no warning for a password from the environment");
        }
    }

    # The same URI in plans that fail in different ways.
    my %invalid = (
        'a bad value elsewhere' => <<"YAML",
version: 1
name: app
source: {uri: "$uri"}
target: {uri: "postgres://db2/app"}
copy: {table_jobs: 0}
YAML
        'an unknown key beside the uri' => <<"YAML",
version: 1
name: app
source: {uri: "$uri", password: "$secret"}
target: {uri: "postgres://db2/app"}
YAML
        'the uri where a section belongs' => <<"YAML",
version: 1
name: app
source: "$uri"
target: {uri: "postgres://db2/app"}
YAML
        'a YAML syntax error on the uri line' => <<"YAML",
version: 1
name: app
source: {uri: "$uri"
target: {uri: "postgres://db2/app"}
YAML
        'the uri in a list' => <<"YAML",
version: 1
name: app
source: {uri: ["$uri"]}
target: {uri: "postgres://db2/app"}
YAML
    );
    for my $how (sort keys %invalid) {
        my $p = write_plan($invalid{$how}, $dir);
        for my $flags (@flag_sets) {
            my $label = "$what, $how" . (@$flags ? " (@$flags)" : '');
            my $res = run_pgshift(\%secret_env, @$flags, 'validate', $p);
            is($res->{rc}, 3, "$label: exits 3");
            no_secret($res, $label);
        }
    }
}

# A shell-style default is not a valid reference; the error must not quote it.
my $shell = write_plan(<<"YAML", $dir);
version: 1
name: app
source: {uri: "postgres://app:\${PW-$secret}\@db1/app"}
target: {uri: "postgres://db2/app"}
YAML
for my $flags (@flag_sets) {
    my $res = run_pgshift({}, @$flags, 'validate', $shell);
    is($res->{rc}, 3, "shell-style \${PW-secret} (@$flags): exits 3");
    no_secret($res, "shell-style \${PW-secret} (@$flags)");
    like($res->{err}, qr/invalid variable reference "\$\{PW-\.\.\.\}"/, 'the reference is named without its default');
}

done_testing();
