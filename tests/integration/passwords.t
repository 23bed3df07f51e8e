# schema.copy_passwords (README "Owners, privileges and roles"): with
# schema.roles: create_missing and a superuser source login, the roles
# pgshift creates get the source's password verifier, so a login with the
# source's password succeeds on the target under scram-sha-256, and a wrong
# one fails; the verifier appears in no output, state row or file of the run.
# A source login that may not read pg_authid gets a preflight WARN naming
# the roles that will have no password.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Find;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use PgShift::Cluster;
use PgShift::Run;

my $c = start_clusters();
sub uri { my ($port, $user, $db) = @_; return "postgresql://$user\@127.0.0.1:$port/$db"; }
my $src = uri($c->{source_port}, 'postgres', 'pwdb');
my $tgt = uri($c->{target_port}, 'postgres', 'pwdb');
my ($role, $password) = ('pgs_pw_t_login', 'pw-t "secret" 9');

psql($c->{source_uri}, "CREATE ROLE $role LOGIN PASSWORD '$password'");
psql($c->{source_uri}, "CREATE ROLE pgs_pw_t_nologin NOLOGIN");
psql($c->{source_uri}, 'CREATE DATABASE pwdb');
psql($c->{target_uri}, 'CREATE DATABASE pwdb');
psql($src, "CREATE TABLE public.t (id int PRIMARY KEY, v text); ALTER TABLE public.t OWNER TO $role;
            INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
            GRANT SELECT ON public.t TO pgs_pw_t_nologin; CREATE ROLE pgs_pw_t_plain LOGIN");
my $verifier = psql($c->{source_uri}, "SELECT rolpassword FROM pg_authid WHERE rolname = '$role'");
like($verifier, qr/^SCRAM-SHA-256\$/, 'the source stores a SCRAM verifier');

my $pdir = tempdir(CLEANUP => 1);
my $plan = write_plan(<<'YAML', $pdir);
version: 1
name: passwords
source:
  uri: ${SOURCE_URI}
target:
  uri: ${TARGET_URI}
schema:
  roles: create_missing
  copy_passwords: true
copy:
  vacuum_analyze: false
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - verify: { level: count }
cleanup:
  keep_state: true
YAML

# ---- a source login that may not read pg_authid: WARN naming the roles
{
    my $r = run_pgshift({SOURCE_URI => uri($c->{source_port}, 'pgs_pw_t_plain', 'pwdb'), TARGET_URI => $tgt},
                        'plan', $plan, '--format', 'json');
    my $doc = eval { decode_json($r->{out}) } // {};
    my ($ck) = grep { $_->{name} eq 'role_passwords' } @{ $doc->{preflight}{checks} // $doc->{checks} // [] };
    is($ck->{status} // '', 'WARN', 'unreadable pg_authid: role_passwords WARNs') or diag($r->{out}, $r->{err});
    like($ck->{observed} // '', qr/without a password: .*pgs_pw_t_login/, 'the WARN names the role');
}

# ---- a superuser source: the verifier is copied
my %env = (SOURCE_URI => $src, TARGET_URI => $tgt);
my $r = run_pgshift(\%env, 'plan', $plan, '--format', 'json');
is($r->{rc}, 0, 'plan exits 0') or diag($r->{out}, $r->{err});
my $doc = eval { decode_json($r->{out}) } // {};
my ($ck) = grep { $_->{name} eq 'role_passwords' } @{ $doc->{preflight}{checks} // $doc->{checks} // [] };
is($ck->{status} // '', 'PASS', 'superuser source: role_passwords PASSes');
my $a = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($a->{rc}, 0, 'apply exits 0') or diag($a->{out}, $a->{err});
is(psql($c->{target_uri}, "SELECT rolpassword = '$verifier' FROM pg_authid WHERE rolname = '$role'"), 't',
   'the target role has the source verifier');
is(psql($c->{target_uri}, "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'pgs_pw_t_nologin'"), 't',
   'a role without a password on the source has none on the target');
like($a->{err} . $a->{out}, qr/created role "?pgs_pw_t_login"? .*with the source's password/, 'the log says the password was copied');

# scram-sha-256 for this role only, ahead of the template's trust lines
my $hba = "$c->{dir}/target/pg_hba.conf";
open(my $in, '<', $hba) or die "$hba: $!";
my $rest = do { local $/; <$in> };
close $in;
open(my $out, '>', $hba) or die "$hba: $!";
print $out "host all $role 127.0.0.1/32 scram-sha-256\n$rest";
close $out;
psql($c->{target_uri}, 'SELECT pg_reload_conf()');
sub login {
    my ($pw) = @_;
    local $ENV{PGPASSWORD} = $pw;
    return scalar qx{psql -X -w -A -t -d "host=127.0.0.1 port=$c->{target_port} dbname=pwdb user=$role" -c 'SELECT count(*) FROM public.t' 2>&1};
}
is(login($password), "100\n", 'a login to the target with the source password succeeds');
like(login('wrong'), qr/password authentication failed/, 'a wrong password is refused (scram is in force)');

# the verifier (and the password) appear nowhere pgshift wrote
my $v = run_pgshift(\%env, 'verify', $plan, '--level', 'schema');
my $state = '';
for my $port ($c->{source_port}, $c->{target_port}) {
    for my $db (split /\n/, psql(uri($port, 'postgres', 'postgres'), "SELECT datname FROM pg_database WHERE datallowconn")) {
        my $u = uri($port, 'postgres', $db);
        next unless psql($u, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'");
        $state .= qx{pg_dump -d '$u' --data-only --schema=pgshift 2>&1};
    }
}
my $files = '';
find(sub { return unless -f $_; open(my $f, '<', $_) or return; local $/; $files .= <$f> // ''; }, $pdir);
my $all = join '', $r->{out}, $r->{err}, $a->{out}, $a->{err}, $v->{out}, $v->{err}, $state, $files;
like($state, qr/COPY pgshift\.\w+/, "the state was dumped");
my ($hash) = $verifier =~ /\$([^:]+):/;
ok(index($all, $verifier) < 0 && index($all, $hash) < 0, 'the verifier appears in no output, state row or file');
ok(index($all, $password) < 0, 'the password appears nowhere');
for my $db ($src, $tgt) { qx{psql -X -q -d '$db' -c "DROP OWNED BY $role CASCADE" 2>&1}; }
psql($c->{target_uri}, "DROP DATABASE pwdb");
done_testing();
