// Package dnsclient is the exporter's one way to ask DNS: MX, A/AAAA, PTR,
// TLSA and TXT lookups through github.com/miekg/dns, against one resolver.
//
// Every query sets RD and never CD, carries EDNS0 with a 1232-byte UDP size
// and, with Options.DNSSEC, the DO bit. It goes over UDP first and over TCP
// when the reply is truncated. A reply must carry the query's ID and
// question. Each exchange ends at the context's deadline (5 s when the
// context has none); the client adds no timeout of its own.
//
// Answers say whether they are DNSSEC-secure: the AD bit of every reply
// that made them, trusted as the resolver gives it. The client does not
// validate signatures itself, so the resolver must validate and the path to
// it must be trusted: a validating resolver on loopback, or one reached over
// a network nobody else can write to. (glibc strips AD unless resolv.conf
// says trust-ad; this package does not read that option.)
//
// Failures are *Error values whose Kind tells NXDOMAIN, SERVFAIL, REFUSED,
// timeouts, other network failures and malformed replies apart. A name with
// no records of the asked type (NODATA) is an empty answer, not an error.
package dnsclient

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// DefaultResolvConf is where New looks for a nameserver when neither
// Options.Server nor Options.ResolvConf is set.
const DefaultResolvConf = "/etc/resolv.conf"

// defaultLookupBudget bounds a lookup whose context has no deadline.
const defaultLookupBudget = 5 * time.Second

// Options configures a Client.
type Options struct {
	// Server is the resolver's address: an IP literal with an optional port
	// ("192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53", "2001:db8::53").
	// Empty: the first nameserver of ResolvConf, port 53. A host name is
	// refused: resolving it would need a resolver.
	Server string
	// ResolvConf is the resolv.conf read when Server is empty;
	// empty means DefaultResolvConf.
	ResolvConf string
	// DNSSEC sets the DO bit on queries and makes answers report the AD bit
	// of their replies as Secure. Without it, Secure is always false.
	DNSSEC bool
}

// Client sends queries to one resolver. It holds no mutable state and is
// safe for concurrent use.
type Client struct {
	server string
	dnssec bool
}

// New returns a Client for the resolver that opts name.
func New(opts Options) (*Client, error) {
	server, err := resolveServer(opts)
	if err != nil {
		return nil, err
	}
	return &Client{server: server, dnssec: opts.DNSSEC}, nil
}

// Server returns the resolver's address as host:port.
func (c *Client) Server() string { return c.server }

// resolveServer returns the host:port that opts name.
func resolveServer(opts Options) (string, error) {
	if opts.Server != "" {
		return serverAddress(opts.Server)
	}
	path := opts.ResolvConf
	if path == "" {
		path = DefaultResolvConf
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("dns resolver: %w", err)
	}
	defer f.Close()
	addr, err := FirstNameserver(f)
	if err != nil {
		return "", fmt.Errorf("dns resolver from %s: %w", path, err)
	}
	return netip.AddrPortFrom(addr, 53).String(), nil
}

// serverAddress checks a configured resolver address and adds port 53 when
// it has none.
func serverAddress(s string) (string, error) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(addr, 53).String(), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("dns server %q: %w", s, err)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("dns server %q: not an IP address: %w", s, err)
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(addr.String(), port))
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("dns server %q: bad port", s)
	}
	return ap.String(), nil
}

// withBudget gives ctx a deadline when it has none.
func withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultLookupBudget)
}
