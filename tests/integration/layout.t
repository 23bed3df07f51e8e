# The folder graph of engine/ has no cycle (a folder includes headers only
# from folders below it), and no two source files share a name, so a name
# sends a newcomer to one file.
use strict;
use warnings;
use FindBin;
use File::Find;
use Test::More;

my $engine = "$FindBin::Bin/../../engine";
my (%edges, %names);
find(sub {
    return unless /\.[ch]$/;
    my ($dir) = $File::Find::dir =~ m{engine/([^/]+)};
    $dir //= '.';
    push @{ $names{$_} }, "$dir/$_";
    open(my $fh, '<', $_) or die "$File::Find::name: $!";
    while (<$fh>) {
        $edges{$dir}{$1} = "$dir/$File::Find::name" if /^#include "([a-z_]+)\/[a-z_0-9]+\.h"/ && $1 ne $dir;
    }
    close $fh;
}, $engine);

ok(scalar(keys %edges) > 5, 'the folders of engine/ were read');

# depth-first search; a grey folder met again closes a cycle
my (%colour, @cycles);
sub visit {
    my ($d, @path) = @_;
    $colour{$d} = 'grey';
    for my $to (sort keys %{ $edges{$d} // {} }) {
        if (($colour{$to} // '') eq 'grey') {
            my @loop = (@path, $d);
            shift @loop while $loop[0] ne $to;
            push @cycles, join(' -> ', @loop, $to);
        } elsif (!$colour{$to}) {
            visit($to, @path, $d);
        }
    }
    $colour{$d} = 'black';
}
visit($_) for grep { !$colour{$_} } sort keys %edges;
is(scalar(@cycles), 0, 'no include cycle between the folders of engine/') or diag(join("\n", @cycles));

my @dups = grep { @{ $names{$_} } > 1 } sort keys %names;
is(scalar(@dups), 0, 'no two files of engine/ share a name')
    or diag(join("\n", map { join(', ', @{ $names{$_} }) } @dups));

done_testing();
