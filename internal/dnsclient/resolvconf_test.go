package dnsclient_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

func TestFirstNameserver(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"IPv4", "search example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n", "192.0.2.53"},
		{"IPv6", "nameserver 2001:db8::53\n", "2001:db8::53"},
		{"IPv6 with zone", "nameserver fe80::1%eth0\n", "fe80::1%eth0"},
		{"IPv4-mapped", "nameserver ::ffff:192.0.2.7\n", "192.0.2.7"},
		{"comments", "# nameserver 192.0.2.1\n; nameserver 192.0.2.2\nnameserver 192.0.2.3 # the real one\n", "192.0.2.3"},
		{"tabs and junk first", "nameserver\tresolver.example.test\nnameserver\t \t192.0.2.4\n", "192.0.2.4"},
		{"options only", "options trust-ad edns0\nsearch .\n", ""},
		{"empty", "", ""},
		{"keyword as value", "domain nameserver\nnameservers 192.0.2.5\n", ""},
		{"no trailing newline", "nameserver 127.0.0.53", "127.0.0.53"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dnsclient.FirstNameserver(strings.NewReader(tc.conf))
			if tc.want == "" {
				if !errors.Is(err, dnsclient.ErrNoNameserver) {
					t.Fatalf("got %v, %v; want ErrNoNameserver", got, err)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestFirstNameserverLineTooLong(t *testing.T) {
	conf := "search " + strings.Repeat("x", 10000) + "\nnameserver 192.0.2.1\n"
	if _, err := dnsclient.FirstNameserver(strings.NewReader(conf)); err == nil || errors.Is(err, dnsclient.ErrNoNameserver) {
		t.Fatalf("err = %v, want a read error", err)
	}
}

func TestNewFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		conf, want string
	}{
		{"nameserver 192.0.2.53\n", "192.0.2.53:53"},
		{"# resolver\nnameserver ::1\n", "[::1]:53"},
		{"nameserver fe80::1%lo\n", "[fe80::1%lo]:53"},
		{"search example.test\n", ""},
	} {
		path := filepath.Join(dir, "resolv.conf")
		if err := os.WriteFile(path, []byte(tc.conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := dnsclient.New(dnsclient.Options{ResolvConf: path})
		if tc.want == "" {
			if !errors.Is(err, dnsclient.ErrNoNameserver) {
				t.Errorf("%q: err = %v, want ErrNoNameserver", tc.conf, err)
			}
			continue
		}
		if err != nil || c.Server() != tc.want {
			t.Errorf("%q: server %v, %v; want %s", tc.conf, c, err, tc.want)
		}
	}
	if _, err := dnsclient.New(dnsclient.Options{ResolvConf: filepath.Join(dir, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestServerOption(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.53", "192.0.2.53:53"},
		{"192.0.2.53:5353", "192.0.2.53:5353"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{"[2001:db8::53]:5353", "[2001:db8::53]:5353"},
		{"[::ffff:192.0.2.1]:53", "[::ffff:192.0.2.1]:53"},
		{"resolver.example.test:53", ""},
		{"192.0.2.53:0", ""},
		{"192.0.2.53:domain", ""},
		{"192.0.2.53:70000", ""},
		{":53", ""},
		{"[2001:db8::53]", ""},
	} {
		c, err := dnsclient.New(dnsclient.Options{Server: tc.in})
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q accepted as %s", tc.in, c.Server())
		case tc.want != "" && (err != nil || c.Server() != tc.want):
			t.Errorf("%q: %v, %v; want %s", tc.in, c, err, tc.want)
		}
	}
}

// FuzzFirstNameserver: any input yields a valid address or an error, never
// a panic, and the address is one the text names.
func FuzzFirstNameserver(f *testing.F) {
	f.Add("nameserver 192.0.2.1\n")
	f.Add("# c\n;c\nnameserver fe80::1%eth0 ; x\nnameserver 192.0.2.2")
	f.Add("nameserver ::ffff:10.0.0.1\noptions ndots:2\n")
	f.Fuzz(func(t *testing.T, conf string) {
		addr, err := dnsclient.FirstNameserver(strings.NewReader(conf))
		if err != nil {
			return
		}
		if !addr.IsValid() || addr.Is4In6() {
			t.Fatalf("address %v from %q", addr, conf)
		}
		if !strings.Contains(conf, "nameserver") {
			t.Fatalf("address %v from %q, which names no nameserver", addr, conf)
		}
	})
}
