package plan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// ForHost plans the probe of a host target: one host, every port of
// opts. It fails with a *NotAllowedError when allowed_targets refuses any
// of the host's addresses (the request is then refused, nothing dialled);
// a host that does not resolve gives endpoints that fail in resolve.
func ForHost(ctx context.Context, r Resolver, host string, opts Options) (*Plan, error) {
	h := resolveHost(ctx, r, host, opts)
	if h.NotAllowed != nil {
		return nil, h.NotAllowed
	}
	p := &Plan{Hosts: []Host{h}}
	p.addEndpoints(h, opts)
	return p, nil
}

// ForDomain plans the probe of a mail domain as a sending MTA finds its
// hosts (RFC 5321 §5.1): the MX records by preference then name, else the
// domain's own addresses; every host resolved and probed on every port.
// MX hosts that allowed_targets refuses get endpoints that fail with
// not_allowed, never dialled.
func ForDomain(ctx context.Context, r Resolver, domain string, opts Options) *Plan {
	d, hosts, failure := lookupMX(ctx, r, domain, opts.MaxHosts)
	p := &Plan{Domain: d, Failure: failure}
	if failure != nil {
		return p
	}
	p.Hosts = resolveAll(ctx, r, hosts, opts)
	for _, h := range p.Hosts {
		if len(h.CNAMEs) > 0 {
			d.Problems = append(d.Problems, Problem{Host: h.Name, Problem: ProblemCNAME})
		}
		var resolveErr *ResolveError
		if (errors.As(h.Err, &resolveErr) && errors.Is(resolveErr, errNoAddress)) || isNXDomain(h.Err) {
			d.Problems = append(d.Problems, Problem{Host: h.Name, Problem: ProblemNoAddress})
		}
	}
	if d.Lookup == LookupImplicit && p.Hosts[0].Err != nil {
		var resolveErr *ResolveError
		errors.As(p.Hosts[0].Err, &resolveErr)
		p.Failure = &TargetFailure{Phase: "resolve", Reason: implicitReason(resolveErr), Err: p.Hosts[0].Err}
		p.Hosts = nil
		return p
	}
	for _, h := range p.Hosts {
		p.addEndpoints(h, opts)
	}
	return p
}

// isNXDomain reports a lookup answered NXDOMAIN: for an MX host that is an
// address-less host as much as one without A and AAAA.
func isNXDomain(err error) bool {
	var dnsErr *dnsclient.Error
	return errors.As(err, &dnsErr) && dnsErr.Kind == dnsclient.NXDomain
}

// implicitReason is the target failure of a domain without MX whose own
// name does not resolve.
func implicitReason(err *ResolveError) string {
	if err != nil && err.Reason == ReasonTimeout {
		return ReasonTimeout
	}
	if isNXDomain(err) {
		return ReasonNXDomain
	}
	return ReasonDNS
}

// lookupMX reads the domain's MX records and picks the hosts to probe.
func lookupMX(ctx context.Context, r Resolver, domain string, maxHosts int) (*Domain, []MXHost, *TargetFailure) {
	start := time.Now()
	answer, err := r.LookupMX(ctx, domain)
	d := &Domain{Lookup: LookupMX, Records: len(answer.Records), Secure: answer.Secure, LookupTime: time.Since(start)}
	if err != nil {
		return d, nil, mxFailure(ctx, err)
	}
	if len(answer.Records) == 0 {
		d.Lookup = LookupImplicit
		return d, []MXHost{{Name: domain}}, nil
	}
	if len(answer.Records) == 1 && answer.Records[0].IsNull() {
		d.Lookup = LookupNullMX
		return d, nil, &TargetFailure{Phase: "mx", Reason: ReasonNullMX, Err: fmt.Errorf("%s has a null MX (RFC 7505): it accepts no mail", domain)}
	}
	return d, pickHosts(d, answer.Records, maxHosts), nil
}

// mxFailure classifies a failed MX lookup.
func mxFailure(ctx context.Context, err error) *TargetFailure {
	reason := dnsReason(ctx, err)
	if isNXDomain(err) {
		reason = ReasonNXDomain
	}
	return &TargetFailure{Phase: "mx", Reason: reason, Err: fmt.Errorf("looking up MX: %w", err)}
}

// pickHosts returns the MX hosts to probe, in record order (preference,
// then name), noting the records that cannot be probed as problems.
func pickHosts(d *Domain, records []dnsclient.MX, maxHosts int) []MXHost {
	var hosts []MXHost
	seen := map[string]bool{}
	for _, mx := range records {
		if seen[mx.Host] {
			continue // the same name again, at a lower preference
		}
		seen[mx.Host] = true
		problem := ""
		switch {
		case mx.IsNull():
			problem = ProblemNullMXMixed
		case isIPLiteral(mx.Host):
			problem = ProblemIPLiteral
		case isLocalhost(mx.Host):
			problem = ProblemLocalhost
		case len(hosts) >= maxHosts:
			problem = ProblemOverMaxHosts
		}
		if problem != "" {
			d.Problems = append(d.Problems, Problem{Host: mx.Host, Problem: problem})
			continue
		}
		hosts = append(hosts, MXHost{Name: mx.Host, Preference: mx.Preference})
	}
	d.Hosts = hosts
	return hosts
}

// isIPLiteral reports an MX name that is an address, bracketed or not.
func isIPLiteral(name string) bool {
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	_, err := netip.ParseAddr(name)
	return err == nil
}

// resolveAll resolves every host at once.
func resolveAll(ctx context.Context, r Resolver, hosts []MXHost, opts Options) []Host {
	out := make([]Host, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { out[i] = resolveHost(ctx, r, h.Name, opts) })
	}
	wg.Wait()
	return out
}

// addEndpoints adds h's endpoints, one per port, or with AllAddresses one
// per port and address; past MaxEndpoints they are only counted.
func (p *Plan) addEndpoints(h Host, opts Options) {
	for _, port := range opts.Ports {
		base := Endpoint{Host: h.Name, Port: port.Port, Settings: port.Settings, ResolveTime: h.LookupTime,
			HostSecure: h.Secure, HostCNAMEs: h.CNAMEs}
		switch {
		case h.Err != nil:
			base.ResolveErr = h.Err
			p.add(base)
		case h.NotAllowed != nil:
			base.ResolveErr = &ResolveError{Host: h.Name, Reason: ReasonNotAllowed, Err: h.NotAllowed}
			p.add(base)
		case opts.AllAddresses:
			for _, a := range capFamilies(h, opts.MaxAddresses) {
				ep := base
				ep.Addrs, ep.IP = []netip.Addr{a}, a
				p.add(ep)
			}
		default:
			base.Addrs = DialOrder(h.IPv6, h.IPv4)
			p.add(base)
		}
	}
}

func (p *Plan) add(ep Endpoint) {
	if len(p.Endpoints) >= MaxEndpoints {
		p.Skipped++
		return
	}
	p.Endpoints = append(p.Endpoints, ep)
}

// capFamilies returns at most max addresses of each family, IPv6 first.
func capFamilies(h Host, max int) []netip.Addr {
	return append(slices.Clone(h.IPv6[:min(len(h.IPv6), max)]), h.IPv4[:min(len(h.IPv4), max)]...)
}

// DialOrder is the first IPv6 address, then the first IPv4 one: a dead
// IPv6 path leaves time for IPv4.
func DialOrder(v6, v4 []netip.Addr) []netip.Addr {
	var addrs []netip.Addr
	for _, family := range [][]netip.Addr{v6, v4} {
		if len(family) > 0 {
			addrs = append(addrs, family[0])
		}
	}
	return addrs
}
