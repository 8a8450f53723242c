package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Endpoint is one host and port to probe, with the addresses to dial: the
// output of the resolver step.
type Endpoint struct {
	// Host is the name the endpoint series carry.
	Host string
	// Port is the TCP port.
	Port int
	// Settings are the port's mode and expectations.
	Settings config.Settings
	// Addrs are dialled in order until one connects: a subset of Resolved.
	Addrs []netip.Addr
	// Resolved are all the addresses the host resolved to (up to
	// maxResolvedAddrs), each of which allowed_targets must admit.
	Resolved []netip.Addr
	// ResolvedTruncated: the host had more addresses than Resolved holds.
	ResolvedTruncated bool
	// ResolveDuration is how long resolving Host took.
	ResolveDuration time.Duration
	// ResolveErr is why resolving failed.
	ResolveErr error
}

// Endpoints resolves the target once and returns one endpoint per port: the
// target's own port, or every port of the module.
func (p *Prober) Endpoints(ctx context.Context, t Target, m *config.Module) []Endpoint {
	start := time.Now()
	found, err := p.resolve(ctx, t, m.IPProtocol)
	took := time.Since(start)
	truncated := len(found) > maxResolvedAddrs
	if truncated {
		found = found[:maxResolvedAddrs]
	}
	addrs := dialOrder(found)
	if t.IP.IsValid() {
		took = 0 // nothing was looked up: the phase was skipped
	}
	ports := []int{t.Port}
	if t.Port == 0 {
		ports = ports[:0]
		for _, port := range m.Ports {
			ports = append(ports, port.Port)
		}
	}
	endpoints := make([]Endpoint, 0, len(ports))
	for _, port := range ports {
		endpoints = append(endpoints, Endpoint{
			Host: t.Host, Port: port, Settings: m.EndpointSettings(port),
			Addrs: addrs, Resolved: found, ResolvedTruncated: truncated,
			ResolveDuration: took, ResolveErr: err,
		})
	}
	return endpoints
}

// maxResolvedAddrs bounds the addresses of one host that are checked
// against allowed_targets; a host with more is refused when the lists
// restrict targets.
const maxResolvedAddrs = 1024

// resolve returns every address of the target, unmapped and without
// repeats, in the resolver's order.
func (p *Prober) resolve(ctx context.Context, t Target, protocol string) ([]netip.Addr, error) {
	if t.IP.IsValid() {
		return []netip.Addr{t.IP}, nil
	}
	network := map[string]string{config.IPProtocol4: "ip4", config.IPProtocol6: "ip6"}[protocol]
	if network == "" {
		network = "ip"
	}
	found, err := p.Resolver.LookupNetIP(ctx, network, t.Host)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", t.Host, err)
	}
	addrs := make([]netip.Addr, 0, min(len(found), maxResolvedAddrs+1))
	for _, a := range found {
		if a = a.Unmap(); !slices.Contains(addrs, a) && (network != "ip4" || a.Is4()) && (network != "ip6" || a.Is6()) {
			addrs = append(addrs, a)
		}
		if len(addrs) > maxResolvedAddrs {
			break // enough to know the host has too many to check
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolving %s: %w", t.Host, errNoAddress)
	}
	return addrs, nil
}

// dialOrder picks the addresses to dial from those found: the first IPv6
// address, then the first IPv4 one.
func dialOrder(found []netip.Addr) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, a := range found {
		if a.Is4() && len(v4) == 0 {
			v4 = append(v4, a)
		} else if a.Is6() && len(v6) == 0 {
			v6 = append(v6, a)
		}
	}
	return append(v6, v4...)
}

// errNoAddress: the name resolved, but to no address of the wanted family.
var errNoAddress = errors.New("no address of the wanted IP protocol")

// NotAllowedError refuses a probe whose target allowed_targets does not
// admit; the handler answers it with 403 and reason not_allowed.
type NotAllowedError struct {
	// Msg is the one-line explanation.
	Msg string
}

func (e *NotAllowedError) Error() string { return e.Msg }

// CheckAllowed returns a *NotAllowedError unless the global and the
// module's allowed_targets admit every address the endpoints' hosts
// resolved to: the endpoints dial only addresses among those.
func CheckAllowed(cfg *config.Config, m *config.Module, endpoints []Endpoint) error {
	if !cfg.RestrictsTargets(m) {
		return nil
	}
	for i, ep := range endpoints {
		if i > 0 && ep.Host == endpoints[i-1].Host {
			continue // the same addresses, checked already
		}
		if ep.ResolvedTruncated {
			return &NotAllowedError{fmt.Sprintf("target %s resolves to more than %d addresses, too many to check against allowed_targets", ep.Host, maxResolvedAddrs)}
		}
		for _, addr := range ep.Resolved {
			if !cfg.TargetAllowed(m, ep.Host, addr) {
				return &NotAllowedError{fmt.Sprintf("target %s resolves to %s, outside allowed_targets", ep.Host, addr)}
			}
		}
	}
	return nil
}
