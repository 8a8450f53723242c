package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// udpPayloadSize is the EDNS0 UDP size advertised (DNS Flag Day 2020): it
// avoids IP fragmentation on any path.
const udpPayloadSize = 1232

// question is one name and type to ask about; name is fully qualified and
// lower-cased.
type question struct {
	name  string
	qtype uint16
}

// newQuestion qualifies and lower-cases name.
func newQuestion(name string, qtype uint16) question {
	return question{name: dns.CanonicalName(name), qtype: qtype}
}

// fail builds the Error of a failed query for q.
func (q question) fail(kind Kind, rcode int, err error) *Error {
	return &Error{Name: hostName(q.name), Type: dns.TypeToString[q.qtype], Kind: kind, Rcode: rcode, Err: err}
}

// hostName strips the trailing dot of a fully qualified name and lower-cases
// it; the root stays ".".
func hostName(fqdn string) string {
	if fqdn == "." {
		return fqdn
	}
	return strings.ToLower(strings.TrimSuffix(fqdn, "."))
}

// errMismatch marks a reply that does not answer the query sent.
var errMismatch = errors.New("reply does not match the query")

// exchange asks the resolver q once: over UDP, then over TCP if the UDP
// reply is truncated. A reply with a failing rcode is returned with a nil
// error; the caller decides what the rcode means.
func (c *Client) exchange(ctx context.Context, q question) (*dns.Msg, error) {
	reply, err := c.exchangeOver(ctx, "udp", q)
	if err == nil && reply.Truncated {
		reply, err = c.exchangeOver(ctx, "tcp", q)
		if err == nil && reply.Truncated {
			return nil, q.fail(Malformed, 0, errors.New("truncated reply over TCP"))
		}
	}
	return reply, err
}

// exchangeOver sends one query for q over network and reads its reply.
func (c *Client) exchangeOver(ctx context.Context, network string, q question) (*dns.Msg, error) {
	var dialer net.Dialer
	raw, err := dialer.DialContext(ctx, network, c.server)
	if err != nil {
		return nil, transportError(ctx, q, err)
	}
	conn := &dns.Conn{Conn: raw, UDPSize: udpPayloadSize}
	defer conn.Close()
	defer bindDeadline(ctx, raw)()
	query := c.newQuery(q)
	if err := conn.WriteMsg(query); err != nil {
		return nil, transportError(ctx, q, err)
	}
	reply, err := conn.ReadMsg()
	if err != nil {
		return nil, transportError(ctx, q, err)
	}
	if err := checkReply(query, reply); err != nil {
		return nil, q.fail(Malformed, 0, fmt.Errorf("over %s: %w", network, err))
	}
	return reply, nil
}

// bindDeadline makes conn's I/O end at ctx's deadline or as soon as ctx is
// done; the function it returns releases the binding.
func bindDeadline(ctx context.Context, conn net.Conn) (release func()) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// newQuery builds the query for q: a fresh random ID, RD set, CD clear,
// EDNS0 with DO when DNSSEC is on.
func (c *Client) newQuery(q question) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.RecursionDesired = true
	m.CheckingDisabled = false
	m.SetEdns0(udpPayloadSize, c.dnssec)
	return m
}

// checkReply rejects a reply that is not a response to query: another ID,
// opcode or question.
func checkReply(query, reply *dns.Msg) error {
	switch {
	case !reply.Response:
		return fmt.Errorf("%w: QR bit clear", errMismatch)
	case reply.Id != query.Id:
		return fmt.Errorf("%w: ID %d, sent %d", errMismatch, reply.Id, query.Id)
	case reply.Opcode != query.Opcode:
		return fmt.Errorf("%w: opcode %d", errMismatch, reply.Opcode)
	case len(reply.Question) == 0 && reply.Rcode == dns.RcodeFormatError:
		return nil // a FORMERR may come without the question (RFC 6891 §7)
	case len(reply.Question) != 1:
		return fmt.Errorf("%w: %d questions", errMismatch, len(reply.Question))
	}
	got, sent := reply.Question[0], query.Question[0]
	if !strings.EqualFold(got.Name, sent.Name) || got.Qtype != sent.Qtype || got.Qclass != sent.Qclass {
		return fmt.Errorf("%w: question %s, sent %s", errMismatch, got.String(), sent.String())
	}
	return nil
}
