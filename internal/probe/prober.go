// Package probe runs the probe of one target: it parses the target, turns
// it and a module into endpoints (the resolver step, allowed_targets
// checked there), plays one SMTP session per endpoint within the budget,
// and returns an immutable Outcome with the answer built from it. It knows
// nothing of HTTP or Prometheus registries.
package probe

import (
	"context"
	"log/slog"
	"sync"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

// Prober runs SMTP probes. The zero value is not ready: use NewProber.
type Prober struct {
	// Resolver, when set, serves every lookup of every module (tests);
	// otherwise each module's dns settings pick a DNS client.
	Resolver Resolver
	// Hostname is this machine's name; sent with EHLO when the module
	// names none and it is fully qualified.
	Hostname string
	// Logger receives one debug line per failed endpoint.
	Logger *slog.Logger
	// Inspector checks the certificates servers present; nil makes a
	// Prober that keeps nothing from one probe to the next.
	Inspector *tlsinspect.Inspector

	// MTASTSPort is the HTTPS port of MTA-STS policy hosts; 0 means 443
	// (tests use another).
	MTASTSPort int

	resolvers resolvers
}

// NewProber returns a Prober that resolves through each module's DNS
// settings and checks certificates with inspector, shared by all probes.
func NewProber(hostname string, logger *slog.Logger, inspector *tlsinspect.Inspector) *Prober {
	return &Prober{Hostname: hostname, Logger: logger, Inspector: inspector}
}

// Probe runs one session per endpoint, all at once, and returns their
// results in endpoint order. ctx's deadline is the budget of every session.
func (p *Prober) Probe(ctx context.Context, m *config.Module, endpoints []Endpoint) []*Result {
	results := make([]*Result, len(endpoints))
	if len(endpoints) == 0 {
		return results
	}
	var wg sync.WaitGroup
	last := len(endpoints) - 1
	for i, ep := range endpoints[:last] {
		wg.Go(func() { results[i] = p.probeEndpoint(ctx, m, ep) })
	}
	// The last session runs on the caller's goroutine: one stack fewer per
	// probe, which is most of the memory of a single-port probe in flight.
	results[last] = p.probeEndpoint(ctx, m, endpoints[last])
	wg.Wait()
	return results
}

// logger returns the prober's logger, or a discarding one.
func (p *Prober) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}
