package probe

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// probePort runs one session against 127.0.0.1:port with module m and
// budget, as the handler would.
func probePort(t testing.TB, m *config.Module, port int, budget time.Duration) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	target, err := ParseTarget("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	p := &Prober{Resolver: net.DefaultResolver, Hostname: "prober.example.net"}
	results := p.Probe(ctx, m, p.Endpoints(ctx, target, m))
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	return results[0]
}

// failureOf returns "phase/reason" of a result's failure, or "" on success.
func failureOf(r *Result) string {
	if r.Failure == nil {
		return ""
	}
	return r.Failure.Phase.String() + "/" + r.Failure.Reason
}

func newReader(conn net.Conn) *bufio.Reader { return bufio.NewReader(conn) }

// staticResolver resolves names from a map, as DNS would.
type staticResolver map[string][]string

func (s staticResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range s[host] {
		addr := netip.MustParseAddr(a)
		if network == "ip" || (network == "ip4") == addr.Is4() {
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// probeTarget probes a target string with the given resolver; the target
// must name one port.
func probeTarget(t testing.TB, m *config.Module, target string, res Resolver) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	defer cancel()
	tg, err := ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Prober{Resolver: res}
	results := p.Probe(ctx, m, p.Endpoints(ctx, tg, m))
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	return results[0]
}
