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
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
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
	p := &Prober{Resolver: staticResolver(t, nil), Hostname: "prober.example.net"}
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

// staticResolver is a DNS server on loopback giving each name its
// addresses, and a client asking it.
func staticResolver(t testing.TB, hosts map[string][]string) Resolver {
	t.Helper()
	parsed := map[string][]netip.Addr{}
	for name, addrs := range hosts {
		for _, a := range addrs {
			parsed[name] = append(parsed[name], netip.MustParseAddr(a))
		}
	}
	return dnstest.NewServer(t, dnstest.Hosts(parsed)...).Client(t, false)
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

// answerOf builds the answer of a host probe with these results.
func answerOf(results []*Result, duration time.Duration, now time.Time) *exposition.Answer {
	return buildAnswer(&Outcome{Results: results, Duration: duration}, now)
}

// Endpoints resolves a host target and returns its endpoints, one per port
// (the target's own, or the module's), without allowed_targets: tests and
// benchmarks only, which probe loopback servers.
func (p *Prober) Endpoints(ctx context.Context, t Target, m *config.Module) []Endpoint {
	pl, _ := plan.ForHost(ctx, p.resolverFor(m), t.Host, plan.OptionsFor(m, t.Port, nil))
	return pl.Endpoints
}
