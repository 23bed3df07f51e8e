#!/usr/bin/perl
# Writes the fuzzers' seed corpora into DIR/{plan,pgoutput,spool,ddl_message}: the ready
# plans and example plans as they are, the pgoutput messages captured from a
# real server (tests/unit/pgoutput_fixtures.h) in the harness's framing
# (16-bit big-endian length, then the message), one file per captured stream,
# a few spool segment descriptions, and the DDL messages of
# tests/unit/test_ddl_message.c (what PostgreSQL's capture function emitted).
use strict;
use warnings;
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path);

my $dir = shift or die "usage: fuzz_seeds.pl DIR\n";
make_path("$dir/plan", "$dir/pgoutput", "$dir/spool", "$dir/ddl_message");

my $n = 0;
find(sub { copy($_, "$dir/plan/" . $n++ . ".yaml") if /\.ya?ml$/ && -f $_ }, 'plans', 'examples');

open my $fh, '<', 'tests/unit/pgoutput_fixtures.h' or die "tests/unit/pgoutput_fixtures.h: $!\n";
my $src = do { local $/; <$fh> };
close $fh;
while ($src =~ /static const struct pgoutput_fixture (\w+)\[\] = \{(.*?)\n\};/sg) {
	my ($name, $body) = ($1, $2);
	my $out = '';
	while ($body =~ /\{"[^"]*", \d+,\s*((?:"[0-9a-f]*"\s*)+)\}/sg) {
		(my $hex = $1) =~ s/[^0-9a-f]//g;
		my $msg = pack('H*', $hex);
		$out .= pack('n', length $msg) . $msg;
	}
	open my $o, '>:raw', "$dir/pgoutput/$name" or die "$dir/pgoutput/$name: $!\n";
	print $o $out;
	close $o;
}

my %spool = (empty => '', one => "\x01\x01\x00\x05\x00", three => "\x03" . ("B\x10\x08\x00abcdefgh" x 3),
			 torn => "\x02" . "I\x01\x04\x00abcd" . "C\x02\x04\x00wxyz" . "\x07\x00", badcrc => "\x02I\x01\x02\xffabC\x01\x01\x00z");
for my $k (keys %spool) {
	open my $o, '>:raw', "$dir/spool/$k" or die "$dir/spool/$k: $!\n";
	print $o $spool{$k};
	close $o;
}

open $fh, '<', 'tests/unit/test_ddl_message.c' or die "tests/unit/test_ddl_message.c: $!\n";
my $ddl = do { local $/; <$fh> };
close $fh;
my $k = 0;
while ($ddl =~ /static const char \w+\[\] =\s*((?:"(?:[^"\\]|\\.)*"\s*)+);/sg) {
	my $lit = $1;
	my $json = '';
	while ($lit =~ /"((?:[^"\\]|\\.)*)"/g) {
		(my $part = $1) =~ s/\\(["\\])/$1/g;
		$json .= $part;
	}
	open my $o, '>:raw', "$dir/ddl_message/" . $k++ or die "$dir/ddl_message: $!\n";
	print $o $json;
	close $o;
}
