#!/usr/bin/perl
# A local HTTP receiver for notification tests: listens on a free port of
# 127.0.0.1, writes the port to --port-file, and records every request as
# DIR/NNNNNN.json ({method, path, headers (lower-case names), body, at,
# status}). What it answers is chosen by the request path, so one receiver
# serves every target of a plan:
#   /ok/...              200
#   /fail500/N/...       500 for the first N requests to this path, then 200
#   /r429/N/S/...        429 with "Retry-After: S" the first N times, then 200
#   /fail400/...         400 always (not to be retried)
# Core modules only.
use strict;
use warnings;
use Getopt::Long;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);

my ($dir, $port_file);
GetOptions('dir=s' => \$dir, 'port-file=s' => \$port_file) && $dir && $port_file
    or die "usage: http_receiver.pl --dir DIR --port-file FILE\n";

my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                   Proto => 'tcp', ReuseAddr => 1) or die "listen: $!\n";
open(my $pf, '>', "$port_file.tmp") or die "$port_file: $!\n";
print $pf $server->sockport, "\n";
close $pf;
rename("$port_file.tmp", $port_file) or die "rename: $!\n";

my %seen;       # requests per path, for the fail-N-times modes
my $n = 0;
$SIG{TERM} = sub { exit 0 };

sub read_request {
    my ($c) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $got = sysread($c, my $chunk, 4096);
        return undef unless $got;
        $head .= $chunk;
    }
    my ($h, $body) = split /\r\n\r\n/, $head, 2;
    my ($line, @lines) = split /\r\n/, $h;
    my ($method, $path) = split / /, $line;
    my %headers;
    for (@lines) { my ($k, $v) = split /:\s*/, $_, 2; $headers{lc $k} = $v; }
    my $len = $headers{'content-length'} // 0;
    while (length($body) < $len) {
        my $got = sysread($c, my $chunk, $len - length($body));
        last unless $got;
        $body .= $chunk;
    }
    return { method => $method, path => $path, headers => \%headers, body => $body, at => time };
}

sub answer_for {
    my ($path) = @_;
    my $count = ++$seen{$path};
    return (500, '') if $path =~ m{^/fail500/(\d+)/} && $count <= $1;
    return (429, "Retry-After: $2\r\n") if $path =~ m{^/r429/(\d+)/(\d+)/} && $count <= $1;
    return (400, '') if $path =~ m{^/fail400/};
    return (200, '');
}

while (my $c = $server->accept) {
    my $req = read_request($c);
    if ($req) {
        my ($status, $extra) = answer_for($req->{path});
        $req->{status} = $status;
        my $file = sprintf("%s/%06d.json", $dir, ++$n);
        open(my $fh, '>', "$file.tmp") or die "$file: $!\n";
        print $fh JSON::PP->new->utf8->canonical->encode($req);
        close $fh;
        rename("$file.tmp", $file);
        my $body = $status == 200 ? "ok\n" : "no\n";
        syswrite($c, "HTTP/1.1 $status X\r\n${extra}Content-Type: text/plain\r\n"
            . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body");
    }
    close $c;
}
