# An independent check that two servers hold the same rows: every table is
# dumped as COPY text by psql from both servers, with the session settings
# that fix a value's text form, rows in one order (the row's own text, in
# the C collation), and the two dumps are compared byte for byte. It shares
# no code with pgshift, so a bug there cannot hide itself here.
package PgShift::Compare;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(user_tables table_dump compare_table compare_tables);

# The same settings pgshift's sessions use (DESIGN.md §4), as PGOPTIONS.
my $options = join ' ', map { "-c $_" } ('extra_float_digits=3', 'TimeZone=UTC',
    'DateStyle=ISO,YMD', 'IntervalStyle=postgres', 'bytea_output=hex', 'client_encoding=UTF8',
    'xmloption=content', 'search_path=pg_catalog');

sub _psql_raw {
    my ($uri, $sql) = @_;
    local $ENV{PGOPTIONS} = $options;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        exec('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $uri, '-c', $sql)
            or die "exec psql: $!";
    }
    binmode $fh;
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "psql failed on $uri: $sql\n" if $?;
    return $out;
}

sub _quote_ident {
    my ($s) = @_;
    $s =~ s/"/""/g;
    return qq{"$s"};
}

# user_tables($uri) -> ["schema.name" as [schema, name], ...]: every plain
# table and partition outside the system schemas and pgshift's own.
sub user_tables {
    my ($uri) = @_;
    my $out = _psql_raw($uri, q{COPY (SELECT n.nspname, c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')
          AND n.nspname NOT LIKE 'pg\_%'
        ORDER BY 1, 2) TO STDOUT WITH (FORMAT csv)});
    my @t;
    for my $line (split /\n/, $out) {
        # names may hold quotes and spaces: csv quoting, no commas in the test names
        my @f = map { my $v = $_; $v =~ s/^"(.*)"$/$1/; $v =~ s/""/"/g; $v } split /,/, $line;
        push @t, [@f];
    }
    return \@t;
}

# table_dump($uri, $schema, $name) -> the table's rows as COPY text, sorted.
sub table_dump {
    my ($uri, $schema, $name) = @_;
    my $q = _quote_ident($schema) . '.' . _quote_ident($name);
    return _psql_raw($uri, "COPY (SELECT * FROM ONLY $q t ORDER BY t::text COLLATE \"C\") TO STDOUT");
}

# compare_table($src, $dst, $schema, $name) -> (rows, undef) when equal,
# (rows, "first difference ...") when not.
sub compare_table {
    my ($src, $dst, $schema, $name) = @_;
    my $a = table_dump($src, $schema, $name);
    my $b = table_dump($dst, $schema, $name);
    my @la = split /\n/, $a, -1;
    my @lb = split /\n/, $b, -1;
    my $rows = @la ? @la - 1 : 0;
    return ($rows, undef) if $a eq $b;
    my $i = 0;
    $i++ while $i < @la && $i < @lb && $la[$i] eq $lb[$i];
    my $show = sub { my $l = shift; return '(no row)' unless defined $l;
                     return length($l) > 200 ? substr($l, 0, 200) . '...' : $l };
    return ($rows, sprintf("%s.%s: %d rows on source, %d on target; first difference at row %d:\n"
        . "  source: %s\n  target: %s", $schema, $name, $rows, @lb ? @lb - 1 : 0, $i + 1,
        $show->($la[$i]), $show->($lb[$i])));
}

# compare_tables($src, $dst) -> list of [ "schema.name", rows, difference-or-undef ]
# for every user table of the source.
sub compare_tables {
    my ($src, $dst) = @_;
    my @r;
    for my $t (@{ user_tables($src) }) {
        my ($rows, $diff) = compare_table($src, $dst, @$t);
        push @r, ["$t->[0].$t->[1]", $rows, $diff];
    }
    return @r;
}

1;
