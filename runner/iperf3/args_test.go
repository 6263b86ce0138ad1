package iperf3

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	srv4  = netip.MustParseAddr("10.2.0.2")
	bind4 = netip.MustParseAddr("10.1.0.2")
	srv6  = netip.MustParseAddr("fd00::2")
)

func TestClientArgs(t *testing.T) {
	tests := []struct {
		name string
		o    ClientOptions
		want string
	}{
		{
			name: "minimal",
			o:    ClientOptions{Server: srv4},
			want: "iperf3 -c 10.2.0.2 -J",
		},
		{
			name: "tcp, everything set",
			o: ClientOptions{
				Server: srv4, Bind: bind4, Port: 5301, Duration: 10 * time.Second, Omit: 2 * time.Second,
				Length: 131072, LogFile: "/tmp/r/flow0.json", ConnectTimeout: 3 * time.Second,
			},
			want: "iperf3 -c 10.2.0.2 -B 10.1.0.2 -p 5301 -t 10 -O 2 -l 131072 --connect-timeout 3000 -J --logfile /tmp/r/flow0.json",
		},
		{
			name: "durations round up",
			o:    ClientOptions{Server: srv4, Duration: 9*time.Second + time.Millisecond, Omit: 500 * time.Millisecond, ConnectTimeout: 1500 * time.Microsecond},
			want: "iperf3 -c 10.2.0.2 -t 10 -O 1 --connect-timeout 2 -J",
		},
		{
			name: "tcp with a rate limit",
			o:    ClientOptions{Server: srv4, Bitrate: 500_000_000},
			want: "iperf3 -c 10.2.0.2 -b 500000000 -J",
		},
		{
			name: "udp with a rate",
			o:    ClientOptions{Server: srv4, UDP: true, Bitrate: 1_000_000_000, Length: 1400},
			want: "iperf3 -c 10.2.0.2 -u -b 1000000000 -l 1400 -J",
		},
		{
			name: "udp without a rate is unlimited, not iperf3's 1 Mbit/s",
			o:    ClientOptions{Server: srv4, UDP: true},
			want: "iperf3 -c 10.2.0.2 -u -b 0 -J",
		},
		{
			name: "ipv6",
			o:    ClientOptions{Server: srv6, Bind: netip.MustParseAddr("fd00::1"), Port: 5201},
			want: "iperf3 -c fd00::2 -B fd00::1 -p 5201 -J",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.o.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if diff := cmp.Diff(strings.Fields(tt.want), ClientArgs(tt.o)); diff != "" {
				t.Errorf("ClientArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    ClientOptions
		want string
	}{
		{name: "no server", o: ClientOptions{}, want: "no server address"},
		{name: "port too high", o: ClientOptions{Server: srv4, Port: 70000}, want: "port 70000"},
		{name: "negative port", o: ClientOptions{Server: srv4, Port: -1}, want: "port -1"},
		{name: "mixed families", o: ClientOptions{Server: srv6, Bind: bind4}, want: "different families"},
		{name: "negative duration", o: ClientOptions{Server: srv4, Duration: -time.Second}, want: "negative duration"},
		{name: "negative omit", o: ClientOptions{Server: srv4, Omit: -time.Second}, want: "negative warm-up"},
		{name: "negative length", o: ClientOptions{Server: srv4, Length: -5}, want: "negative length"},
		{name: "negative timeout", o: ClientOptions{Server: srv4, ConnectTimeout: -1}, want: "negative connect timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestServerArgs(t *testing.T) {
	tests := []struct {
		name string
		o    ServerOptions
		want string
	}{
		{name: "all addresses, default port", o: ServerOptions{}, want: "iperf3 -s --forceflush"},
		{name: "bound", o: ServerOptions{Bind: srv4, Port: 5301}, want: "iperf3 -s -B 10.2.0.2 -p 5301 --forceflush"},
		{name: "with a log", o: ServerOptions{Bind: srv6, Port: 5202, LogFile: "/tmp/s.log"}, want: "iperf3 -s -B fd00::2 -p 5202 --logfile /tmp/s.log --forceflush"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.o.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := ServerArgs(tt.o)
			if diff := cmp.Diff(strings.Fields(tt.want), got); diff != "" {
				t.Errorf("ServerArgs (-want +got):\n%s", diff)
			}
			for _, a := range got {
				if a == "-1" || a == "--one-off" || a == "-J" {
					t.Errorf("server args %q hold %s", got, a)
				}
			}
		})
	}
	if err := (ServerOptions{Port: 65536}).Validate(); err == nil {
		t.Error("ServerOptions{Port: 65536}.Validate() = nil, want an error")
	}
}
