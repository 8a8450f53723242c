package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// TargetKind says what a probe's target names.
type TargetKind string

// The kinds of target a module takes.
const (
	// TargetsHost: the target is a host, probed on the module's ports.
	TargetsHost TargetKind = "host"
	// TargetsMX: the target is a mail domain, whose MX hosts are probed.
	TargetsMX TargetKind = "mx"
)

// AddressMode says which addresses of a host a probe dials.
type AddressMode string

// The address modes of a module.
const (
	// AddressesFirst dials one address, the family chosen by ip_protocol.
	AddressesFirst AddressMode = "first"
	// AddressesAll dials every address of each host, up to MaxAddresses
	// per family.
	AddressesAll AddressMode = "all"
)

// Limits and defaults of the MX, address and sharing keys.
const (
	// DefaultMaxHosts is max_hosts when unset.
	DefaultMaxHosts = 10
	// MaxMaxHosts is the largest max_hosts.
	MaxMaxHosts = 64
	// DefaultMaxAddresses is max_addresses when unset.
	DefaultMaxAddresses = 4
	// MaxMaxAddresses is the largest max_addresses.
	MaxMaxAddresses = 16
	// MaxShareWindow is the longest share_window.
	MaxShareWindow = 10 * time.Minute
	// DefaultDNSPort is the port of a dns.server given without one.
	DefaultDNSPort = 53
)

// DNS chooses a module's resolver.
type DNS struct {
	// Server is the resolver's IP address, with an optional port
	// (192.0.2.53, 192.0.2.53:5353, 2001:db8::53, [2001:db8::53]:5353);
	// empty: the first nameserver of /etc/resolv.conf.
	Server string `yaml:"server,omitempty"`
	// DNSSEC sets the DO bit and trusts the AD bit of answers.
	DNSSEC bool `yaml:"dnssec,omitempty"`
}

// ServerAddr returns the resolver's address and port (53 when the
// configuration gives none), and false when Server is empty or invalid.
func (d DNS) ServerAddr() (netip.AddrPort, bool) {
	ap, err := parseDNSServer(d.Server)
	return ap, err == nil && ap.IsValid()
}

// parseDNSServer parses an IP literal with an optional port; empty is the
// zero AddrPort. Host names are refused: resolving them would bypass the
// module's resolver.
func parseDNSServer(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Errorf("dns.server %q: port 0 is not a port", s)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(bare); err == nil && a.Zone() == "" {
		return netip.AddrPortFrom(a.Unmap(), DefaultDNSPort), nil
	}
	return netip.AddrPort{}, fmt.Errorf("dns.server %q must be an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:5353); host names are not allowed, since resolving them would bypass the module's resolver", s)
}

// HostLimit is the most MX hosts a probe of a targets: mx module probes.
func (m *Module) HostLimit() int {
	if m.MaxHosts == nil {
		return DefaultMaxHosts
	}
	return *m.MaxHosts
}

// AddressLimit is the most addresses per family that addresses: all dials
// for each host.
func (m *Module) AddressLimit() int {
	if m.MaxAddresses == nil {
		return DefaultMaxAddresses
	}
	return *m.MaxAddresses
}

// validateSchema checks the MX, address, DNS, DANE, MTA-STS and sharing keys.
func (m *Module) validateSchema(at location) []problem {
	var probs []problem
	add := func(key, format string, args ...any) {
		probs = append(probs, at.key(key).problem(format, args...))
	}
	switch m.Targets {
	case TargetsHost, TargetsMX:
	default:
		add("targets", "targets must be host or mx, got %q", m.Targets)
	}
	checkLimit(add, "max_hosts", m.MaxHosts, MaxMaxHosts, m.Targets == TargetsMX, "targets: mx")
	switch m.Addresses {
	case AddressesFirst, AddressesAll:
	default:
		add("addresses", "addresses must be first or all, got %q", m.Addresses)
	}
	checkLimit(add, "max_addresses", m.MaxAddresses, MaxMaxAddresses, m.Addresses == AddressesAll, "addresses: all")
	if _, err := parseDNSServer(m.DNS.Server); err != nil {
		probs = append(probs, at.key("dns", "server").problem("%v", err))
	}
	if m.DANE && !m.DNS.DNSSEC {
		add("dane", "dane needs dns.dnssec: true (TLSA records count only when DNSSEC-secure)")
	}
	if m.MTASTS && m.Targets != TargetsMX {
		add("mta_sts", "mta_sts applies to mail domains only: it needs targets: mx")
	}
	if m.TLSRPT && m.Targets != TargetsMX {
		add("tlsrpt", "tlsrpt applies to mail domains only: it needs targets: mx")
	}
	if m.ShareWindow < 0 || m.ShareWindow > MaxShareWindow {
		add("share_window", "share_window must be between 0s (off) and %s, got %s", MaxShareWindow, m.ShareWindow)
	}
	return probs
}

// checkLimit checks an optional count key: between 1 and most, and set
// only where it applies (applies, else it needs needs).
func checkLimit(add func(key, format string, args ...any), key string, v *int, most int, applies bool, needs string) {
	switch {
	case v == nil:
	case !applies:
		add(key, "%s applies only with %s", key, needs)
	case *v < 1 || *v > most:
		add(key, "%s must be between 1 and %d, got %d", key, most, *v)
	}
}

// checkExpectNeeds reports expect keys set at at whose module does not look
// up what they judge: DANE keys without dane, MTA-STS keys without mta_sts.
func (m *Module) checkExpectNeeds(e Expect, at location) []problem {
	var probs []problem
	needs := []struct {
		key string
		set bool
		on  bool
		mod string
	}{
		{"dane_match", e.DANEMatch != nil, m.DANE, "dane"},
		{"require_dane", e.RequireDANE != nil, m.DANE, "dane"},
		{"mta_sts_match", e.MTASTSMatch != nil, m.MTASTS, "mta_sts"},
		{"require_mta_sts", e.RequireMTASTS != nil, m.MTASTS, "mta_sts"},
	}
	for _, n := range needs {
		if n.set && !n.on {
			probs = append(probs, at.key("expect", n.key).problem("expect.%s needs %s: true in the module", n.key, n.mod))
		}
	}
	return probs
}
