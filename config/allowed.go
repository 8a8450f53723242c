package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/smtp-exporter/smtp_exporter/internal/specialaddr"
)

// allowlist is the parsed form of allowed_targets.
type allowlist struct {
	prefixes []netip.Prefix
	domains  []string // lower-case; a leading "*." matches any subdomain
}

// empty reports whether the list admits every target.
func (a allowlist) empty() bool { return len(a.prefixes) == 0 && len(a.domains) == 0 }

// parseAllowlist parses the entries of an allowed_targets list found at
// at, with a problem for each entry that is neither a range nor a pattern.
func parseAllowlist(entries []string, at location) (allowlist, []problem) {
	var a allowlist
	var probs []problem
	for i, e := range entries {
		if err := a.add(e); err != nil {
			probs = append(probs, at.key(strconv.Itoa(i)).problem("allowed_targets: %v", err))
		}
	}
	return a, probs
}

// add parses entry e: a CIDR range, an address or a domain pattern.
func (a *allowlist) add(e string) error {
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR range: %w", e, err)
		}
		a.prefixes = append(a.prefixes, unmapPrefix(p))
		return nil
	}
	if ip, err := netip.ParseAddr(e); err == nil {
		ip = ip.Unmap()
		a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		return nil
	}
	d := strings.TrimSuffix(strings.ToLower(e), ".")
	if !validDomainPattern(strings.TrimPrefix(d, "*.")) {
		return fmt.Errorf("%q is neither a CIDR range nor a domain pattern (example.com, *.example.com)", e)
	}
	a.domains = append(a.domains, d)
	return nil
}

// validDomainPattern accepts dot-separated labels of letters, digits,
// hyphens and underscores.
func validDomainPattern(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// unmapPrefix turns ::ffff:192.0.2.0/120 into 192.0.2.0/24: Allows compares
// unmapped addresses, which an IPv4-mapped range would never contain.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Allows reports whether the exporter may dial addr for the target host name
// host: every target when the list is empty; else addr inside an allowed
// range, or host matching an allowed domain pattern and addr a public
// address: one outside every range of the IANA special-purpose address
// registries (loopback, private, shared, benchmarking, documentation …),
// an embedded IPv4 address judged by itself. So a name under an allowed
// domain cannot point the exporter inside the network; list such ranges
// explicitly.
func (a allowlist) Allows(host string, addr netip.Addr) bool {
	if a.empty() {
		return true
	}
	addr = addr.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return specialaddr.Public(addr) && a.matchesDomain(host)
}

func (a allowlist) matchesDomain(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range a.domains {
		if host == d || (strings.HasPrefix(d, "*.") && strings.HasSuffix(host, d[1:])) {
			return true
		}
	}
	return false
}

// TargetAllowed reports whether addr, resolved from host, may be probed
// with module m: both the global and the module's allowed_targets must
// admit it.
func (c *Config) TargetAllowed(m *Module, host string, addr netip.Addr) bool {
	return c.allowed.Allows(host, addr) && m.allowed.Allows(host, addr)
}

// RestrictsTargets reports whether the global or the module's
// allowed_targets is set, so that some targets are refused.
func (c *Config) RestrictsTargets(m *Module) bool {
	return !c.allowed.empty() || !m.allowed.empty()
}
