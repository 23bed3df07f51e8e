# The examples under examples/ (issue 8): every YAML file parses (PyYAML,
# python3-yaml in the Makefile's DEB_PKGS: CI workflows use flow style and
# block scalars that CPAN::Meta::YAML does not read); the GitHub Actions
# workflow, the GitLab pipeline and the Kubernetes manifests have the parts
# the README promises; the plan inside the ConfigMap validates; and every
# `pgshift ...` invocation written in an example, the quickstart or the
# README uses a real command and only flags that `pgshift COMMAND --help`
# (or the global `pgshift --help`) lists, with valid values for --format,
# --level and --log-format.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Find;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use PgShift::Run;

my $root = "$FindBin::Bin/../..";
my $ex = "$root/examples";
my %env = (
    SOURCE_URI => 'postgresql://migrator@source.example:5432/app',
    TARGET_URI => 'postgresql://migrator@target.example:5432/app',
);

sub slurp {
    open(my $fh, '<', $_[0]) or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

# Every document of a YAML file, through PyYAML's safe loader, as Perl data.
sub yaml_docs {
    my ($file) = @_;
    my $py = 'import sys, json, yaml; '
           . 'json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout, default=str)';
    open(my $ph, '-|', 'python3', '-c', $py, $file) or die "python3: $!";
    local $/;
    my $json = <$ph>;
    close($ph);
    return undef if $? != 0;
    return decode_json($json);
}

plan skip_all => 'python3 with PyYAML is needed (make deps installs python3-yaml)'
    if system('python3', '-c', 'import yaml') != 0;

# --- every YAML file under examples/ parses ---------------------------------
my @yaml;
find({ no_chdir => 1, wanted => sub { push @yaml, $_ if /\.ya?ml\z/ && -f } }, $ex);
@yaml = sort @yaml;
cmp_ok(scalar(@yaml), '>=', 6, 'examples/ holds the YAML examples');
my %docs;
for my $f (@yaml) {
    (my $name = $f) =~ s{^\Q$root\E/}{};
    my $d = yaml_docs($f);
    ok($d && @$d, "$name parses as YAML") or next;
    $docs{$name} = $d;
}

# --- GitHub Actions -----------------------------------------------------------
{
    my $gh = $docs{'examples/github-actions/pgshift.yml'}[0] || {};
    # YAML 1.1 reads the key "on" as true
    my $on = $gh->{on} // $gh->{true} // {};
    ok($on->{pull_request}, 'github: runs on pull requests');
    is_deeply($on->{push}{branches}, ['main'], 'github: runs on a push to main');
    my $jobs = $gh->{jobs} || {};
    my @plan_steps = @{ $jobs->{plan}{steps} || [] };
    my $plan_text = join "\n", map { $_->{run} // '' } @plan_steps;
    like($plan_text, qr/pgshift validate/, 'github: the PR job validates');
    like($plan_text, qr/pgshift plan [^\n]*--format markdown/, 'github: the PR job runs plan --format markdown');
    ok((grep { ($_->{uses} // '') =~ m{^actions/github-script@} && ($_->{with}{script} // '') =~ /createComment/ } @plan_steps),
       'github: the plan is posted as a PR comment (actions/github-script)');
    is($jobs->{plan}{permissions}{'pull-requests'}, 'write', 'github: the PR job may comment');
    like($jobs->{plan}{if} // '', qr/pull_request/, 'github: the PR job runs on pull requests only');
    my $apply = $jobs->{apply} || {};
    like($apply->{if} // '', qr{refs/heads/main}, 'github: apply runs on main only');
    ok($apply->{environment}, 'github: apply waits for an environment approval');
    my $apply_text = join "\n", map { $_->{run} // '' } @{ $apply->{steps} || [] };
    like($apply_text, qr/pgshift [^\n]*apply [^\n]*--yes/, 'github: apply runs pgshift apply --yes');
    ok((grep { ($_->{run} // '') =~ /pgshift status/ && $_->{run} =~ /GITHUB_STEP_SUMMARY/
               && ($_->{if} // '') eq 'always()' } @{ $apply->{steps} || [] }),
       'github: pgshift status goes to the job summary, also after a failure');
}

# --- GitLab CI ----------------------------------------------------------------
{
    my $gl = $docs{'examples/gitlab-ci/.gitlab-ci.yml'}[0] || {};
    my $plan = $gl->{plan} || {};
    ok((grep { ($_->{if} // '') =~ /merge_request_event/ } @{ $plan->{rules} || [] }),
       'gitlab: the plan job runs on merge requests');
    my $script = join("\n", @{ $plan->{script} || [] });
    like($script, qr/pgshift plan [^\n]*--format markdown/, 'gitlab: plan --format markdown');
    like($script, qr{merge_requests/\$CI_MERGE_REQUEST_IID/notes}, 'gitlab: posted as a merge request note');
    my $apply = $gl->{apply} || {};
    is($apply->{environment}{name}, 'production-db', 'gitlab: apply runs in a protected environment');
    ok((grep { ($_->{when} // '') eq 'manual' && ($_->{if} // '') =~ /CI_DEFAULT_BRANCH/ } @{ $apply->{rules} || [] }),
       'gitlab: apply is a manual job on the default branch');
    like(join("\n", @{ $apply->{script} || [] }), qr/pgshift [^\n]*apply [^\n]*--yes/, 'gitlab: apply runs pgshift apply --yes');
    like(join("\n", @{ $apply->{after_script} || [] }), qr/pgshift status/, 'gitlab: status after apply, also after a failure');
}

# --- Kubernetes -----------------------------------------------------------------
my @k8s_commands;
{
    my %kinds;
    for my $name (grep { m{^examples/kubernetes/} } sort keys %docs) {
        for my $d (@{ $docs{$name} }) {
            push @{ $kinds{ $d->{kind} // '' } }, $d if ref $d eq 'HASH';
        }
    }
    my ($cm) = @{ $kinds{ConfigMap} || [] };
    my ($job) = @{ $kinds{Job} || [] };
    my ($secret) = @{ $kinds{Secret} || [] };
    my ($pvc) = @{ $kinds{PersistentVolumeClaim} || [] };
    ok($cm && $job && $secret && $pvc, 'kubernetes: a ConfigMap, a Job, a Secret and a PersistentVolumeClaim');
    $cm ||= {}; $job ||= {}; $secret ||= {}; $pvc ||= {};

    my $plan_text = $cm->{data}{'plan.yaml'} // '';
    my $dir = tempdir(CLEANUP => 1);
    my $r = run_pgshift({ %env, APP_ROLE => 'app' }, 'validate', write_plan($plan_text, $dir));
    is($r->{rc}, 0, 'kubernetes: the plan in the ConfigMap validates') or diag($r->{err});
    is($r->{err}, '', '... without warnings');

    my $spec = $job->{spec} || {};
    cmp_ok($spec->{backoffLimit} // 0, '>=', 1, 'kubernetes: the Job retries (backoffLimit)');
    my $pod = $spec->{template}{spec} || {};
    is($pod->{restartPolicy}, 'Never', 'kubernetes: restartPolicy Never (a new pod resumes)');
    my ($c) = grep { $_->{name} eq 'pgshift' } @{ $pod->{containers} || [] };
    $c ||= {};
    my @argv = (@{ $c->{command} || [] }, @{ $c->{args} || [] });
    push @k8s_commands, join(' ', @argv);
    like(join(' ', @argv), qr/^pgshift .*\bapply \S+ .*--yes.*--no-progress/, 'kubernetes: runs pgshift apply --yes --no-progress');
    my %env_from = map { ($_->{name} => $_->{valueFrom}{secretKeyRef}) } @{ $c->{env} || [] };
    for my $v (qw(SOURCE_URI TARGET_URI)) {
        is($env_from{$v} && $env_from{$v}{name}, $secret->{metadata}{name}, "kubernetes: $v comes from the Secret");
        ok($env_from{$v} && exists $secret->{stringData}{ $env_from{$v}{key} }, "kubernetes: the Secret has the key of $v");
    }
    my %mounts = map { ($_->{name} => $_->{mountPath}) } @{ $c->{volumeMounts} || [] };
    my %vols = map { ($_->{name} => $_) } @{ $pod->{volumes} || [] };
    my ($plan_vol) = grep { $vols{$_}{configMap} } keys %vols;
    is($plan_vol && $vols{$plan_vol}{configMap}{name}, $cm->{metadata}{name}, 'kubernetes: the plan is mounted from the ConfigMap');
    my ($plan_path) = grep { m{^/} } @argv[grep { $argv[$_ - 1] eq 'apply' } 1 .. $#argv];
    is($plan_path, ($plan_vol ? $mounts{$plan_vol} : '') . '/plan.yaml', 'kubernetes: apply reads the mounted plan');
    my ($spool) = $plan_text =~ /^\s*spool_dir:\s*(\S+)/m;
    my ($spool_vol) = grep { $vols{$_}{persistentVolumeClaim} } keys %vols;
    ok($spool && $spool_vol && index($spool, $mounts{$spool_vol} . '/') == 0,
       'kubernetes: the spool is on the PersistentVolumeClaim (a rescheduled pod keeps it)');
    is($spool_vol && $vols{$spool_vol}{persistentVolumeClaim}{claimName}, $pvc->{metadata}{name}, 'kubernetes: the claim exists');
}

# --- every pgshift invocation uses real commands and flags -----------------------
my @commands = qw(validate plan apply status cutover verify cleanup reset rollback version);
my %is_command = map { ($_ => 1) } @commands;
sub help_flags {
    my $h = run_pgshift({}, @_, '--help');
    return { map { ($_ => 1) } $h->{out} =~ /(?<![\w-])(--?[a-zA-Z][\w-]*)/g };
}
my $global = help_flags();
my %flags = map { ($_ => help_flags($_)) } @commands;
my %values = ('--format' => [qw(text json markdown dot)], '--level' => [qw(schema count checksum)],
              '--log-format' => [qw(text json)]);

# Returns a list of problems with one command line (from "pgshift" on).
sub check_invocation {
    my ($line) = @_;
    my @tok = map { s/^["'\[]+|["'\],]+$//gr } split ' ', $line;
    shift @tok;                                  # pgshift
    my @problems;
    my $cmd;
    while (@tok) {
        my $t = shift @tok;
        if ($t =~ /^-/) {
            push @problems, "unknown global option $t" unless $global->{$t};
            push @problems, check_value($t, shift @tok) if $values{$t};
            next;
        }
        $cmd = $t;
        last;
    }
    return (@problems, 'no command') unless defined $cmd;
    return (@problems, "unknown command \"$cmd\"") unless $is_command{$cmd};
    while (@tok) {
        my $t = shift @tok;
        next unless $t =~ /^--?[a-zA-Z]/;
        $t =~ s/=.*//s;
        push @problems, "\"$t\" is not an option of pgshift $cmd"
            unless $flags{$cmd}{$t} || $global->{$t};
        push @problems, check_value($t, shift @tok) if $values{$t};
    }
    return @problems;
}

sub check_value {
    my ($flag, $v) = @_;
    return "$flag without a value" unless defined $v;
    return () if $v =~ /\$|^(?:FORMAT|LEVEL)$/ || $v =~ /\|/;    # a variable, or the README's synopsis
    return () if grep { $v eq $_ } @{ $values{$flag} };
    return "$flag $v: not one of @{ $values{$flag} }";
}

# The command lines written in a text: "pgshift" where a command starts (not
# inside a word, a path or a quoted message), up to a shell operator.
sub invocations {
    my ($text) = @_;
    $text =~ s/\\\n[ \t#]*/ /g;                  # continuation lines
    $text =~ s{(?<![\w/.])\./pgshift\b}{pgshift}g;  # ./pgshift in the tutorial
    my @found;
    for my $line (split /\n/, $text) {
        while ($line =~ /(?<![\w"'\/.:-])pgshift(?=[ \t])/g) {
            my $inv = substr($line, $-[0]);
            $inv =~ s/\s*(?:\s\|\|?\s|[;`)]|&&|\s[<>]|\s#|\s\().*//s;
            my ($first) = $inv =~ /^pgshift\s+(?:-\S+\s+(?:json\s+|text\s+)?)*(\S+)/;
            next unless defined $first;
            # prose ("pgshift never prints...") is not a command line unless
            # the line starts with it
            next unless $is_command{$first} || $first =~ /^-/
                || $first =~ /^[a-z]+\z/ && $line =~ /^[\s\$>*-]*(?:run:\s*)?\Q$inv\E/;
            push @found, $inv;
        }
    }
    return @found;
}

my @sources = (
    (map { [ $_, slurp("$root/$_") ] } grep { -f "$root/$_" } sort(keys %docs),
        (map { s{^\Q$root\E/}{}r } glob("$root/plans/*.yaml")),
        'examples/quickstart/demo.sh', 'examples/kubernetes/Dockerfile', 'README.md'),
    map { [ 'examples/kubernetes Job command', $_ ] } @k8s_commands,
);
# Markdown: only code (fenced blocks and `inline` spans) holds command lines.
sub markdown_code {
    my ($md) = @_;
    my @code = $md =~ /^[ \t]*```[^\n]*\n(.*?)^[ \t]*```/msg;
    (my $prose = $md) =~ s/^[ \t]*```[^\n]*\n.*?^[ \t]*```//msg;
    push @code, $prose =~ /`([^`\n]+)`/g;
    return join "\n", @code;
}

my %count;
for my $s (@sources) {
    my ($name, $text) = @$s;
    $text = markdown_code($text) if $name =~ /\.md\z/;
    for my $inv (invocations($text)) {
        $count{$name}++;
        my @p = check_invocation($inv);
        ok(!@p, "$name: $inv") or diag(join "\n", @p);
    }
}
for my $name ('examples/github-actions/pgshift.yml', 'examples/gitlab-ci/.gitlab-ci.yml',
              'examples/kubernetes/job.yaml', 'examples/quickstart/demo.sh', 'README.md') {
    cmp_ok($count{$name} // 0, '>=', 3, "$name: its pgshift invocations were found and checked");
}

# the checker itself finds a bad flag, a bad value and a bad command
ok(scalar(check_invocation('pgshift apply plan.yaml --dry-run')), 'checker: --dry-run is not an apply flag');
ok(scalar(check_invocation('pgshift plan p.yaml --format yaml')), 'checker: --format yaml is not a format');
ok(scalar(check_invocation('pgshift aply p.yaml')), 'checker: aply is not a command');
ok(scalar(check_invocation('pgshift --log-format xml status p.yaml')), 'checker: --log-format xml');
is_deeply([check_invocation('pgshift --log-format json apply p.yaml --yes --no-progress')], [], 'checker: a good line passes');
is_deeply([invocations(qq{  run: |\n    pgshift validate "\$PLAN"\n    echo "pgshift plan failed"\n})],
          ['pgshift validate "$PLAN"'], 'extractor: a command line, not a quoted message');

done_testing();
