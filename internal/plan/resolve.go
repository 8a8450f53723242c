package plan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// Failure reasons decided here; the session reports them as they are.
const (
	ReasonDNS        = "dns"
	ReasonTimeout    = "timeout"
	ReasonNotAllowed = "not_allowed"
	ReasonNXDomain   = "nxdomain"
	ReasonNullMX     = "null_mx"
)

// ResolveError is why a host has no address to dial, with its reason.
type ResolveError struct {
	Host string
	// Reason is ReasonDNS, ReasonTimeout or ReasonNotAllowed.
	Reason string
	Err    error
}

func (e *ResolveError) Error() string { return e.Err.Error() }
func (e *ResolveError) Unwrap() error { return e.Err }

// NotAllowedError says which address of a host allowed_targets refuses.
type NotAllowedError struct {
	Host string
	Addr netip.Addr
	// TooMany: the host has more addresses than can be checked.
	TooMany bool
}

func (e *NotAllowedError) Error() string {
	if e.TooMany {
		return fmt.Sprintf("target %s resolves to more than %d addresses of a family, too many to check against allowed_targets", e.Host, dnsclient.MaxRecords)
	}
	return fmt.Sprintf("target %s resolves to %s, outside allowed_targets", e.Host, e.Addr)
}

// errNoAddress: the name resolved, but to no address of the wanted family.
var errNoAddress = errors.New("no address of the wanted IP protocol")

// dnsReason names the reason for a failed lookup: timeout when the budget
// or the server's silence ended it, else dns.
func dnsReason(ctx context.Context, err error) string {
	var dnsErr *dnsclient.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &dnsErr) && dnsErr.Kind == dnsclient.Timeout) {
		return ReasonTimeout
	}
	return ReasonDNS
}

// Network is the lookup network ("ip", "ip4", "ip6") of a module's
// ip_protocol.
func Network(ipProtocol string) string {
	switch ipProtocol {
	case config.IPProtocol4:
		return "ip4"
	case config.IPProtocol6:
		return "ip6"
	}
	return "ip"
}

// isLocalhost reports the names that always mean this machine (RFC 6761
// §6.3): they are never looked up.
func isLocalhost(name string) bool {
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}

// resolveHost looks up a host's addresses, judging every one of them
// against allowed. An IP literal or a localhost name is not looked up.
func resolveHost(ctx context.Context, r Resolver, name string, opts Options) Host {
	h := Host{Name: name}
	if ip, err := netip.ParseAddr(name); err == nil {
		if ip = ip.Unmap(); ip.Is4() {
			h.IPv4 = []netip.Addr{ip}
		} else {
			h.IPv6 = []netip.Addr{ip}
		}
	} else if isLocalhost(name) {
		h.IPv4, h.IPv6 = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, []netip.Addr{netip.IPv6Loopback()}
	} else {
		start := time.Now()
		answer, err := r.LookupAddrs(ctx, name, Network(opts.IPProtocol))
		h.LookupTime = time.Since(start)
		if err != nil {
			h.Secure, h.CNAMEs = answer.Secure, answer.CNAMEs // an authenticated denial is secure
			h.Err = &ResolveError{Host: name, Reason: dnsReason(ctx, err), Err: fmt.Errorf("resolving %s: %w", name, err)}
			return h
		}
		h.IPv4, h.IPv6, h.Secure, h.CNAMEs = answer.IPv4, answer.IPv6, answer.Secure, answer.CNAMEs
		h.truncated = answer.Truncated
	}
	h.IPv4, h.IPv6 = wanted(h.IPv4, opts.IPProtocol != config.IPProtocol6), wanted(h.IPv6, opts.IPProtocol != config.IPProtocol4)
	if len(h.IPv4)+len(h.IPv6) == 0 {
		h.Err = &ResolveError{Host: name, Reason: ReasonDNS, Err: fmt.Errorf("resolving %s: %w", name, errNoAddress)}
		return h
	}
	h.NotAllowed = CheckAllowed(name, append(h.IPv6, h.IPv4...), h.truncated, opts.Allowed)
	return h
}

func wanted(addrs []netip.Addr, ok bool) []netip.Addr {
	if ok {
		return addrs
	}
	return nil
}

// CheckAllowed returns a *NotAllowedError when allowed refuses one of
// host's addresses, or when its answer was cut (truncated) so that some
// went unchecked; nil allows every address.
func CheckAllowed(host string, addrs []netip.Addr, truncated bool, allowed func(string, netip.Addr) bool) error {
	if allowed == nil {
		return nil
	}
	if truncated {
		return &NotAllowedError{Host: host, TooMany: true}
	}
	for _, a := range addrs {
		if !allowed(host, a) {
			return &NotAllowedError{Host: host, Addr: a}
		}
	}
	return nil
}
