package mtasts_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

// fetchSetup is a policy host with a good certificate and policy, and a
// DNS server whose zone the test gives.
type fetchSetup struct {
	ps   *policyServer
	dns  *dnstest.Server
	opts mtasts.Options
}

func newFetchSetup(t *testing.T, listener net.Listener, handler http.Handler, zone ...string) fetchSetup {
	t.Helper()
	ca := newTestCA(t)
	if handler == nil {
		handler = servePolicy(http.StatusOK, "text/plain", goodPolicy)
	}
	cert := ca.leaf(t, policyHost, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	ps := startPolicyServer(t, cert, listener, handler)
	dnsSrv := dnstest.NewServer(t, zone...)
	opts := mtasts.Options{Resolver: newResolver(t, dnsSrv), RootCAs: ca.pool, Port: ps.port(t)}
	return fetchSetup{ps: ps, dns: dnsSrv, opts: opts}
}

// allowList allows the addresses listed and records every question.
type allowList struct {
	allowed []netip.Addr
	mu      sync.Mutex
	asked   []string
}

func (a *allowList) allow(host string, addr netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, host+" "+addr.String())
	return slices.Contains(a.allowed, addr)
}

func TestCheckAllowed(t *testing.T) {
	loopback, second := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	for _, tc := range []struct {
		name    string
		zone    []string
		allowed []netip.Addr
		want    string
		asked   []string
		refused netip.Addr
	}{
		{name: "address allowed", zone: []string{recordTXT, policyHostA}, allowed: []netip.Addr{loopback},
			want: mtasts.ResultOK, asked: []string{policyHost + " 127.0.0.1"}},
		{name: "only address refused", zone: []string{recordTXT, policyHostA},
			want: mtasts.ResultFetchFailed, asked: []string{policyHost + " 127.0.0.1"}, refused: loopback},
		{name: "one of two addresses refused", zone: []string{recordTXT, policyHostA, "mta-sts.mail.test. 300 IN A 127.0.0.2"},
			allowed: []netip.Addr{loopback}, want: mtasts.ResultFetchFailed,
			asked: []string{policyHost + " 127.0.0.1", policyHost + " 127.0.0.2"}, refused: second},
		{name: "more addresses than can be checked", zone: manyAddresses(70), allowed: []netip.Addr{loopback},
			want: mtasts.ResultFetchFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFetchSetup(t, nil, nil, tc.zone...)
			list := &allowList{allowed: tc.allowed}
			s.opts.Allowed = list.allow
			r := mtasts.Check(testContext(t, 3*time.Second), testDomain, s.opts)
			if r.Result != tc.want {
				t.Fatalf("Result = %q (%v), want %q", r.Result, r.Err, tc.want)
			}
			if !slices.Equal(list.asked, tc.asked) {
				t.Errorf("Allowed asked %q, want %q", list.asked, tc.asked)
			}
			wantConns := int64(1)
			if tc.want != mtasts.ResultOK {
				wantConns = 0
				var notAllowed *mtasts.NotAllowedError
				if !errors.As(r.Err, &notAllowed) || notAllowed.Addr != tc.refused || notAllowed.Host != policyHost || notAllowed.TooMany == tc.refused.IsValid() {
					t.Errorf("Err = %v, want a *NotAllowedError for %s", r.Err, tc.refused)
				}
			}
			if got := s.ps.conns.Load(); got != wantConns {
				t.Errorf("policy host saw %d connections, want %d", got, wantConns)
			}
		})
	}
}

// manyAddresses is the record and n addresses of the policy host, all on
// 127.0.0.0/8.
func manyAddresses(n int) []string {
	zone := []string{recordTXT}
	for i := range n {
		zone = append(zone, "mta-sts.mail.test. 300 IN A 127.0.0."+strconv.Itoa(i+1))
	}
	return zone
}

func TestCheckIPProtocol(t *testing.T) {
	for _, tc := range []struct {
		name, protocol string
		listen         string
		zone           []string
		want           string
		wantAddr       string
	}{
		{name: "auto falls back from a refused IPv6", protocol: config.IPProtocolAuto, listen: "127.0.0.1:0",
			zone: []string{recordTXT, policyHostA, "mta-sts.mail.test. 300 IN AAAA ::1"}, want: mtasts.ResultOK, wantAddr: "127.0.0.1"},
		{name: "ip4 skips IPv6", protocol: config.IPProtocol4, listen: "127.0.0.1:0",
			zone: []string{recordTXT, policyHostA, "mta-sts.mail.test. 300 IN AAAA ::1"}, want: mtasts.ResultOK, wantAddr: "127.0.0.1"},
		{name: "ip6", protocol: config.IPProtocol6, listen: "[::1]:0",
			zone: []string{recordTXT, policyHostA, "mta-sts.mail.test. 300 IN AAAA ::1"}, want: mtasts.ResultOK, wantAddr: "::1"},
		{name: "ip6 without AAAA", protocol: config.IPProtocol6, listen: "127.0.0.1:0",
			zone: []string{recordTXT, policyHostA}, want: mtasts.ResultFetchFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listener, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("cannot listen on %s: %v", tc.listen, err)
			}
			s := newFetchSetup(t, listener, nil, tc.zone...)
			s.opts.IPProtocol = tc.protocol
			r := mtasts.Check(testContext(t, 3*time.Second), testDomain, s.opts)
			if r.Result != tc.want {
				t.Fatalf("Result = %q (%v), want %q", r.Result, r.Err, tc.want)
			}
			if tc.wantAddr != "" && r.PolicyAddr.Addr().String() != tc.wantAddr {
				t.Errorf("PolicyAddr = %v, want %s", r.PolicyAddr, tc.wantAddr)
			}
		})
	}
}

func TestCheckPrefersIPv6(t *testing.T) {
	v6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	v4, err := net.Listen("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(v6.Addr().(*net.TCPAddr).Port)).String())
	if err != nil {
		v6.Close()
		t.Skipf("the IPv6 port is taken on 127.0.0.1: %v", err)
	}
	s := newFetchSetup(t, v6, nil, recordTXT, policyHostA, "mta-sts.mail.test. 300 IN AAAA ::1")
	ca := newTestCA(t)
	other := startPolicyServer(t, ca.leaf(t, policyHost, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)), v4, nil)
	r := mtasts.Check(testContext(t, 3*time.Second), testDomain, s.opts)
	if r.Result != mtasts.ResultOK || r.PolicyAddr.Addr() != netip.IPv6Loopback() {
		t.Fatalf("Result = %q (%v) from %v, want ok from ::1", r.Result, r.Err, r.PolicyAddr)
	}
	if n := other.conns.Load(); n != 0 {
		t.Errorf("the IPv4 address was dialled too (%d connections)", n)
	}
}

// deadlineMargin is how late Check may return after its deadline.
const deadlineMargin = 250 * time.Millisecond

func TestCheckDeadline(t *testing.T) {
	const budget = 400 * time.Millisecond
	slowPolicy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) mtasts.Options
	}{
		{name: "slow policy answer", setup: func(t *testing.T) mtasts.Options {
			return newFetchSetup(t, nil, slowPolicy, recordTXT, policyHostA).opts
		}},
		{name: "silent TLS server", setup: func(t *testing.T) mtasts.Options {
			opts := newFetchSetup(t, nil, nil, recordTXT, policyHostA).opts
			opts.Port = silentListener(t)
			return opts
		}},
		{name: "slow TXT answer", setup: func(t *testing.T) mtasts.Options {
			s := newFetchSetup(t, nil, nil, recordTXT, policyHostA)
			s.dns.SetType("_mta-sts.mail.test", dns.TypeTXT, dnstest.Behaviour{Delay: 10 * time.Second})
			return s.opts
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.setup(t)
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			start := time.Now()
			r := mtasts.Check(ctx, testDomain, opts)
			if took := time.Since(start); took > budget+deadlineMargin {
				t.Errorf("Check took %v, budget %v", took, budget)
			}
			if r.Result != mtasts.ResultFetchFailed {
				t.Errorf("Result = %q (%v), want fetch_failed", r.Result, r.Err)
			}
		})
	}
}

// silentListener accepts connections on 127.0.0.1 and never writes; it
// returns its port.
func silentListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}
