// Package plan is the resolver step of a probe: it turns a target and a
// module's settings into a plan — the facts about a mail domain (its MX
// records and their problems) and the endpoints to probe (host, port,
// addresses, settings) — checking every address against allowed_targets.
// It does no SMTP; the runner executes the plan.
package plan

import (
	"context"
	"net/netip"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// MaxEndpoints caps the endpoints of one probe (ports × MX hosts ×
// addresses); endpoints past it are counted in Plan.Skipped, not probed.
const MaxEndpoints = 64

// Resolver is the DNS a plan is made with: *dnsclient.Client.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) (dnsclient.MXAnswer, error)
	LookupAddrs(ctx context.Context, host, network string) (dnsclient.AddrsAnswer, error)
}

// Port is one port the plan probes on each host, with its settings.
type Port struct {
	Port     int
	Settings config.Settings
}

// Options are the module settings a plan follows.
type Options struct {
	// MX makes the target a mail domain whose MX hosts are probed.
	MX bool
	// MaxHosts caps the MX hosts probed, in order of (preference, name).
	MaxHosts int
	// AllAddresses probes every address of a host, one endpoint each, at
	// most MaxAddresses per family; otherwise one endpoint per host and
	// port dials its addresses in order until one connects.
	AllAddresses bool
	MaxAddresses int
	// IPProtocol is config.IPProtocolAuto, IPProtocol4 or IPProtocol6.
	IPProtocol string
	// Ports are probed on every host.
	Ports []Port
	// Allowed reports whether an address of a host may be dialled; nil
	// allows every address.
	Allowed func(host string, addr netip.Addr) bool
}

// Plan is what a probe will do.
type Plan struct {
	// Domain holds the MX facts of a mail-domain target; nil for a host.
	Domain *Domain
	// Hosts are the hosts resolved, in probe order.
	Hosts []Host
	// Endpoints are the sessions to run.
	Endpoints []Endpoint
	// Skipped counts endpoints past MaxEndpoints.
	Skipped int
	// Failure says why a target has no endpoints at all; nil otherwise.
	Failure *TargetFailure
}

// Domain is what the MX lookup of a mail domain found.
type Domain struct {
	// Lookup is LookupMX, LookupImplicit or LookupNullMX.
	Lookup string
	// Records counts the MX records found, before max_hosts.
	Records int
	// Hosts are the MX hosts probed, with their preference.
	Hosts []MXHost
	// Problems are the MX records or hosts that are misconfigured.
	Problems []Problem
	// Secure: the MX answer carried the AD bit.
	Secure bool
	// LookupTime is how long the MX lookup took.
	LookupTime time.Duration
}

// The results of an MX lookup (probe_smtp_mx_lookup_info's label).
const (
	LookupMX       = "mx"
	LookupImplicit = "implicit"
	LookupNullMX   = "null_mx"
)

// MXHost is one MX host probed.
type MXHost struct {
	Name       string
	Preference uint16
}

// Problem is a misconfigured MX record or host (probe_smtp_mx_problem_info).
type Problem struct {
	Host    string
	Problem string
}

// The problems of an MX record or host.
const (
	ProblemCNAME        = "cname"
	ProblemIPLiteral    = "ip_literal"
	ProblemLocalhost    = "localhost"
	ProblemNoAddress    = "no_address"
	ProblemNullMXMixed  = "null_mx_mixed"
	ProblemOverMaxHosts = "over_max_hosts"
)

// Host is one host name resolved for the plan.
type Host struct {
	Name string
	// IPv4 and IPv6 are the addresses found, before any cap.
	IPv4, IPv6 []netip.Addr
	// Secure: the address answers carried the AD bit.
	Secure bool
	// CNAMEs are the aliases followed to the addresses.
	CNAMEs []string
	// LookupTime is how long resolving took; 0 for an IP literal.
	LookupTime time.Duration
	// Err is why the host did not resolve; nil if it did.
	Err error
	// NotAllowed is why allowed_targets refuses the host; nil if it admits it.
	NotAllowed error

	truncated bool // the answer held more addresses than were kept
}

// Endpoint is one session to run.
type Endpoint struct {
	// Host is the name the endpoint's series carry.
	Host string
	Port int
	// Settings are the port's mode and expectations.
	Settings config.Settings
	// Addrs are dialled in order until one connects; every one of them
	// was checked against allowed_targets.
	Addrs []netip.Addr
	// IP is the one address of an endpoint of addresses: all (its ip
	// label); invalid otherwise.
	IP netip.Addr
	// ResolveTime is how long resolving Host took.
	ResolveTime time.Duration
	// HostSecure: Host's address answers were DNSSEC-secure (DANE applies
	// only then, RFC 7672 §2.1); HostCNAMEs are the aliases they followed.
	HostSecure bool
	HostCNAMEs []string
	// ResolveErr is why Host did not resolve, or why it may not be
	// dialled (a *NotAllowedError); the session then fails at once.
	ResolveErr error
}

// TargetFailure is why a target has no endpoints.
type TargetFailure struct {
	// Phase is "mx" or "resolve".
	Phase string
	// Reason is "nxdomain", "dns", "timeout" or "null_mx".
	Reason string
	Err    error
}
