#!/usr/bin/env perl
# A TCP relay from 127.0.0.1:LISTEN to 127.0.0.1:TARGET that can play a
# network drop, for tests of connection loss:
#   SIGUSR1  freeze: nothing is read, written or accepted any more, and no
#            connection is closed (a dead path, not a refused one)
#   SIGUSR2  thaw: every connection of before the freeze is closed (they
#            died with the path) and new ones are relayed again
# Usage: tcp_proxy.pl LISTEN_PORT TARGET_PORT (runs until killed).
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;

my ($listen_port, $target_port) = @ARGV;
die "usage: $0 LISTEN_PORT TARGET_PORT\n" unless $listen_port && $target_port;

my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $listen_port,
                                   Listen => 64, ReuseAddr => 1) or die "listen: $!\n";
my %peer;       # socket -> the socket it relays to
my ($frozen, $thaw) = (0, 0);
$SIG{USR1} = sub { $frozen = 1 };
$SIG{USR2} = sub { $thaw = 1 };
$SIG{PIPE} = 'IGNORE';

sub drop_pair {
    my ($s) = @_;
    my $o = delete $peer{$s};
    delete $peer{$o} if $o;
    close($s);
    close($o) if $o;
}

while (1) {
    if ($thaw) {
        close($_) for values %peer;     # each socket is the value of its peer's key
        %peer = ();
        ($frozen, $thaw) = (0, 0);
    }
    if ($frozen) { select(undef, undef, undef, 0.1); next; }
    my $sel = IO::Select->new($server, map { $peer{$_} } keys %peer);
    for my $s ($sel->can_read(0.1)) {
        next if $frozen;
        if ($s == $server) {
            my $c = $server->accept or next;
            my $t = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $target_port);
            if (!$t) { close($c); next; }
            $peer{$c} = $t;
            $peer{$t} = $c;
            next;
        }
        next unless $peer{$s};
        my $n = sysread($s, my $buf, 65536);
        if (!$n) { drop_pair($s); next; }
        my $o = $peer{$s};
        my $off = 0;
        while ($off < $n) {
            my $w = syswrite($o, $buf, $n - $off, $off);
            if (!defined $w) { drop_pair($s); last; }
            $off += $w;
        }
    }
}
