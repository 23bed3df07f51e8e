# Ready plans and plans/schema.json: every shipped plan validates without a
# warning; the schema declares exactly the keys the parser knows (a plan using
# every declared key validates, and each key misspelled is rejected); the
# ready plans satisfy the schema.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use CPAN::Meta::YAML;
use File::Find;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use PgShift::Run;

my $root = "$FindBin::Bin/../..";
my %env = (
    SOURCE_URI         => 'postgresql://migrator@source.example:5432/app',
    TARGET_URI         => 'postgresql://migrator@target.example:5432/app',
    APP_ROLE           => 'app',
    SLACK_WEBHOOK_URL  => 'https://hooks.slack.com/services/T000/B000/XXXX',
    DEPLOY_HOOK_URL    => 'https://deploy.example/hooks/pgshift',
    DEPLOY_HOOK_SECRET => 'whsec_c2VjcmV0LWZvci10ZXN0cw==',
);

sub slurp {
    open(my $fh, '<', $_[0]) or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

# --- every shipped plan validates, with no warning -------------------------
# A pgshift plan is a YAML file with top-level version: and source: keys;
# other YAML under examples/ (CI pipelines, Kubernetes manifests) is checked
# by examples.t.
sub is_plan {
    my $text = slurp($_[0]);
    return $text =~ /^version:/m && $text =~ /^source:/m;
}
my @shipped;
find({ no_chdir => 1, wanted => sub { push @shipped, $_ if /\.ya?ml\z/ && -f && is_plan($_) } },
     grep { -d } "$root/plans", "$root/examples");
@shipped = sort @shipped;
ok(scalar(grep { m{/examples/quickstart/plan\.yaml\z} } @shipped), 'the quickstart plan is among the plans checked');
cmp_ok(scalar(grep { m{/plans/[^/]+\.yaml\z} } @shipped), '>=', 5, 'plans/ holds the ready plans');
for my $plan (@shipped) {
    (my $name = $plan) =~ s{^\Q$root\E/}{};
    my $r = run_pgshift(\%env, 'validate', $plan);
    is($r->{rc}, 0, "$name validates") or diag($r->{err});
    is($r->{err}, '', "$name validates without warnings");
}

# --- the schema against the parser ----------------------------------------
my $schema = decode_json(slurp("$root/plans/schema.json"));

# Follows "$ref": "#/$defs/NAME"; keywords next to the $ref win.
sub resolve {
    my ($s) = @_;
    while (my $ref = $s->{'$ref'}) {
        my ($name) = $ref =~ m{\A#/\$defs/(\w+)\z} or die "unsupported \$ref $ref";
        my %here = %$s;
        delete $here{'$ref'};
        $s = { %{ $schema->{'$defs'}{$name} }, %here };
    }
    return $s;
}

# A value that uses every key the schema declares below $s, taken from each
# leaf's examples or default; records each key's path (a.b, list[].c).
my @paths;
sub example {
    my ($s, $path) = @_;
    $s = resolve($s);
    if ($s->{properties}) {
        my %obj;
        for my $k (sort keys %{ $s->{properties} }) {
            my $p = $path eq '' ? $k : "$path.$k";
            push @paths, $p;
            $obj{$k} = example($s->{properties}{$k}, $p);
        }
        return \%obj;
    }
    my $items = $s->{items} && resolve($s->{items});
    if ($items && ($items->{properties} || $items->{oneOf})) {
        return [ map { example($_, "$path\[]") } @{ $items->{oneOf} || [$items] } ];
    }
    die "schema.json: $path has neither examples nor default\n"
        unless exists $s->{examples} || exists $s->{default};
    return exists $s->{examples} ? $s->{examples}[0] : $s->{default};
}

# Renames the key at $path (split on dots) to KEYx, in every list item that has it.
sub misspell {
    my ($node, $key, @rest) = @_;
    my $many = $key =~ s/\[\]\z//;
    if (!@rest) {
        $node->{"${key}x"} = delete $node->{$key};
        return;
    }
    (my $next = $rest[0]) =~ s/\[\]\z//;
    my @children = $many ? @{ $node->{$key} } : ($node->{$key});
    misspell($_, @rest) for grep { exists $_->{$next} } @children;
}

# JSON is YAML: the plan is written as JSON. Hook files must exist.
my $dir = tempdir(CLEANUP => 1);
make_path("$dir/hooks");
for my $hook ('hooks/annotate.lua', 'hooks/switch_traffic.lua') {
    open(my $fh, '>', "$dir/$hook") or die "$dir/$hook: $!";
    print $fh "return function(event, ctx) return true end\n";
    close $fh;
}
my $json = JSON::PP->new->pretty->canonical;
my $full = example($schema, '');
cmp_ok(scalar(@paths), '>=', 50, 'schema.json declares the plan keys');

my $r = run_pgshift(\%env, 'validate', write_plan($json->encode($full), $dir));
is($r->{rc}, 0, 'a plan using every key schema.json declares validates') or diag($r->{err});
is($r->{err}, '', '... without warnings');

for my $path (@paths) {
    my $plan = decode_json(encode_json($full));
    my ($key) = $path =~ /(\w+)(?:\[\])?\z/;
    misspell($plan, split /\./, $path);
    my $m = run_pgshift(\%env, 'validate', write_plan($json->encode($plan), $dir));
    is($m->{rc}, 3, "$path misspelled as ${key}x: invalid plan");
    like($m->{err}, qr/unknown (?:key|cutover step) "\Q${key}x\E"/, "$path misspelled: unknown key named");
}

# The other direction: every key in the parser's tables is in the schema.
my %declared = map { /(\w+)(?:\[\])?\z/; ($1 => 1) } @paths;
my $parser = join '', map { slurp($_) } glob("$root/engine/plan/*.c");
my @parser_keys = $parser =~ /\{"(\w+)", f_\w+,/g;
my ($kinds) = $parser =~ /cutover_kinds\[\] = \{(.*?)\}/s;
push @parser_keys, $kinds =~ /"(\w+)"/g;
cmp_ok(scalar(@parser_keys), '>=', 40, 'found the key tables in engine/plan/*.c');
my @missing = grep { !$declared{$_} } @parser_keys;
is_deeply(\@missing, [], 'schema.json declares every key of the parser');

# --- the ready plans satisfy the schema -------------------------------------
# A small checker for the keywords schema.json uses. YAML scalars arrive as
# text, so integer and boolean are judged by their spelling.
sub is_type {
    my ($v, $t) = @_;
    return !defined $v if $t eq 'null';
    return ref $v eq 'HASH' if $t eq 'object';
    return ref $v eq 'ARRAY' if $t eq 'array';
    return 0 if !defined $v || ref $v;
    return $v =~ /\A-?[0-9]+\z/ if $t eq 'integer';
    return $v =~ /\A(?:true|false)\z/ if $t eq 'boolean';
    return 1;
}

# check($value, $schema, $where) -> list of problems
sub check {
    my ($v, $s, $at) = @_;
    $s = resolve($s);
    if (my $alts = $s->{anyOf} || $s->{oneOf}) {
        my $n = grep { !check($v, $_, $at) } @$alts;
        return $n == 0 ? ("$at: matches none of the allowed forms")
             : $n > 1 && $s->{oneOf} ? ("$at: matches more than one form") : ();
    }
    my @types = ref $s->{type} ? @{ $s->{type} } : grep { defined } $s->{type};
    my $scalar = defined $v && !ref $v;
    return "$at: expected @types" if @types && !grep { is_type($v, $_) } @types;
    return "$at: \"$v\" is not one of @{ $s->{enum} }"
        if $s->{enum} && !($scalar && grep { $v eq $_ } @{ $s->{enum} });
    return "$at: expected $s->{const}" if exists $s->{const} && !($scalar && $v eq $s->{const});
    return "$at: \"$v\" does not match $s->{pattern}"
        if defined $s->{pattern} && $scalar && $v !~ /$s->{pattern}/;
    if (ref $v eq 'HASH' && $s->{properties}) {
        my @problems = map { "$at: missing required key $_" }
                       grep { !exists $v->{$_} } @{ $s->{required} || [] };
        for my $k (sort keys %$v) {
            push @problems, $s->{properties}{$k} ? check($v->{$k}, $s->{properties}{$k}, "$at.$k")
                          : $s->{additionalProperties} // 1 ? () : "$at: unknown key $k";
        }
        return @problems;
    }
    return map { check($v->[$_], $s->{items}, "$at\[$_]") } 0 .. $#$v
        if ref $v eq 'ARRAY' && $s->{items};
    return ();
}

my @bad = check({ version => 2, name => 'Bad-Name', source => {}, target => { uri => 'x' },
                  copy => { table_jobs => 'four', colour => 'red' },
                  cutover => { steps => [{ verify => { level => 'all' } }] } }, $schema, 'plan');
is(scalar(@bad), 6, 'the checker finds each problem of a bad plan') or diag(join "\n", @bad);

for my $plan (grep { m{/plans/[^/]+\.yaml\z} } @shipped) {
    (my $name = $plan) =~ s{^\Q$root\E/}{};
    my $yaml = CPAN::Meta::YAML->read($plan);
    ok($yaml, "$name reads with CPAN::Meta::YAML (block style)")
        or diag(CPAN::Meta::YAML->errstr), next;
    is_deeply([check($yaml->[0], $schema, 'plan')], [], "$name satisfies schema.json");
}

done_testing();
