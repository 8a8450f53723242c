package probe

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
)

// Resolver is the DNS of a probe, *dnsclient.Client: every lookup of a
// probe goes through its module's resolver.
type Resolver interface {
	plan.Resolver
	LookupPTR(ctx context.Context, addr netip.Addr) (dnsclient.PTRAnswer, error)
	LookupTLSA(ctx context.Context, port int, host string) (dnsclient.TLSAAnswer, error)
	LookupTXT(ctx context.Context, name string) (dnsclient.TXTAnswer, error)
}

// Endpoint is one session to run: the output of the resolver step.
type Endpoint = plan.Endpoint

// NotAllowedError refuses a probe whose target allowed_targets does not
// admit; the handler answers it with 403 and reason not_allowed.
type NotAllowedError = plan.NotAllowedError

// resolvers keeps one DNS client per resolver setting of the modules.
type resolvers struct {
	mu      sync.Mutex
	clients map[config.DNS]Resolver
}

// limitResolvers bounds the clients kept: a reload can change every
// module's resolver, and the old clients are then dropped.
const limitResolvers = 64

// get returns the client for d, made on first use. A resolver that cannot
// be made (no nameserver in resolv.conf) fails each lookup with why.
func (r *resolvers) get(d config.DNS) Resolver {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[d]; ok {
		return c
	}
	if r.clients == nil || len(r.clients) >= limitResolvers {
		r.clients = map[config.DNS]Resolver{}
	}
	var c Resolver
	opts := dnsclient.Options{DNSSEC: d.DNSSEC}
	if ap, ok := d.ServerAddr(); ok {
		opts.Server = ap.String()
	}
	client, err := dnsclient.New(opts)
	if err != nil {
		c = brokenResolver{fmt.Errorf("no resolver for this module: %w", err)}
	} else {
		c = client
	}
	r.clients[d] = c
	return c
}

// resolverFor returns the resolver of module m: the Prober's own when it
// has one (tests), else the module's dns settings'.
func (p *Prober) resolverFor(m *config.Module) Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return p.resolvers.get(m.DNS)
}

// brokenResolver fails every lookup with err.
type brokenResolver struct{ err error }

func (b brokenResolver) LookupMX(context.Context, string) (dnsclient.MXAnswer, error) {
	return dnsclient.MXAnswer{}, b.err
}

func (b brokenResolver) LookupAddrs(context.Context, string, string) (dnsclient.AddrsAnswer, error) {
	return dnsclient.AddrsAnswer{}, b.err
}

func (b brokenResolver) LookupPTR(context.Context, netip.Addr) (dnsclient.PTRAnswer, error) {
	return dnsclient.PTRAnswer{}, b.err
}

func (b brokenResolver) LookupTLSA(context.Context, int, string) (dnsclient.TLSAAnswer, error) {
	return dnsclient.TLSAAnswer{}, b.err
}

func (b brokenResolver) LookupTXT(context.Context, string) (dnsclient.TXTAnswer, error) {
	return dnsclient.TXTAnswer{}, b.err
}

// allowedFor returns the allowed_targets check of req's probe, nil when
// neither the global nor the module's list restricts targets.
func allowedFor(req Request) func(string, netip.Addr) bool {
	if !req.Config.RestrictsTargets(req.Module) {
		return nil
	}
	return func(host string, a netip.Addr) bool { return req.Config.TargetAllowed(req.Module, host, a) }
}

// makePlan runs the resolver step of req: a host target's endpoints, or a
// mail domain's MX hosts and theirs, every address checked against the
// global and the module's allowed_targets.
func (p *Prober) makePlan(ctx context.Context, req Request) (*plan.Plan, error) {
	opts := plan.OptionsFor(req.Module, req.Target.Port, allowedFor(req))
	r := p.resolverFor(req.Module)
	if opts.MX {
		return plan.ForDomain(ctx, r, req.Target.Host, opts), nil
	}
	return plan.ForHost(ctx, r, req.Target.Host, opts)
}
