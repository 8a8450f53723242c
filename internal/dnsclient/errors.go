package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/miekg/dns"
)

// Kind says why a lookup failed. A name that exists without records of the
// asked type (NODATA) is not a failure: its answer is empty.
type Kind int

const (
	// NXDomain: the server answered that the name does not exist.
	NXDomain Kind = iota + 1
	// ServFail: the server answered SERVFAIL, or any other rcode that is not
	// NOERROR, NXDOMAIN or REFUSED (FORMERR, NOTIMP …); Error.Rcode tells which.
	// A validating resolver answers SERVFAIL for DNSSEC-bogus data.
	ServFail
	// Refused: the server answered REFUSED.
	Refused
	// Timeout: the context's deadline or an I/O timeout ended the lookup.
	Timeout
	// Network: any other transport failure (connection refused, reset,
	// unreachable, a cancelled context).
	Network
	// Malformed: the reply could not be parsed, did not match the query (ID,
	// question, not a response), or broke the protocol (truncated over TCP,
	// a CNAME loop or a chain too long).
	Malformed
)

var kindNames = [...]string{
	NXDomain:  "nxdomain",
	ServFail:  "servfail",
	Refused:   "refused",
	Timeout:   "timeout",
	Network:   "network",
	Malformed: "malformed",
}

// String returns the kind in lower case ("nxdomain", "timeout" …).
func (k Kind) String() string {
	if k <= 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Error is the failure of one lookup. Inspect it with errors.As.
type Error struct {
	// Name is the name whose query failed, without the trailing dot: the name
	// the caller asked about, or the end of the CNAME chain followed from it.
	Name string
	// Type is the query type ("MX", "A", "TLSA" …).
	Type string
	// Kind says why the lookup failed.
	Kind Kind
	// Rcode is the response code of the reply for NXDomain, ServFail and
	// Refused; 0 otherwise.
	Rcode int
	// Err is the underlying cause, when there is one.
	Err error
}

// Error describes the failure in one line.
func (e *Error) Error() string {
	msg := fmt.Sprintf("dns %s %s: %s", e.Type, e.Name, e.Kind)
	if e.Rcode != 0 && e.Kind == ServFail {
		msg += " (" + dns.RcodeToString[e.Rcode] + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports a Timeout as context.DeadlineExceeded, whatever its cause.
func (e *Error) Is(target error) bool {
	return target == context.DeadlineExceeded && e.Kind == Timeout
}

// rcodeError turns a reply's failing rcode into an Error.
func rcodeError(q question, rcode int) *Error {
	kind := ServFail
	switch rcode {
	case dns.RcodeNameError:
		kind = NXDomain
	case dns.RcodeRefused:
		kind = Refused
	}
	return q.fail(kind, rcode, nil)
}

// transportError classifies an error of an exchange; ctx tells a deadline
// or a cancellation from a server's failure.
func transportError(ctx context.Context, q question, err error) *Error {
	var dnsErr *dns.Error
	var netErr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return q.fail(Timeout, 0, err)
	case ctx.Err() != nil:
		return q.fail(Network, 0, fmt.Errorf("%w: %w", ctx.Err(), err))
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return q.fail(Timeout, 0, err)
	case errors.As(err, &dnsErr):
		return q.fail(Malformed, 0, err)
	default:
		return q.fail(Network, 0, err)
	}
}
