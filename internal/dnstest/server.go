// Package dnstest runs an in-process DNS server for tests: UDP and TCP on
// one loopback port, answering from a table of zone-file records, with
// per-name behaviours (AD bit, SERVFAIL, REFUSED, truncation over UDP, slow
// or no answers) and a record of every query it received.
package dnstest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Behaviour is how the server treats queries for one name.
type Behaviour struct {
	// Secure sets the AD bit on answers, whatever the query asked: the
	// client must decide on its own whether to trust it.
	Secure bool
	// Rcode, when not 0 (NOERROR), is answered instead of any records:
	// dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNameError …
	Rcode int
	// Truncate answers UDP queries with the TC bit and no records; TCP
	// queries get the full answer.
	Truncate bool
	// Delay holds the answer back this long.
	Delay time.Duration
	// Drop never answers.
	Drop bool
	// CNAMEOnly answers a name that is an alias with its CNAME record alone,
	// as an authoritative server does when the target lies in another zone:
	// the client must ask for the target itself.
	CNAMEOnly bool
}

// Query is one query the server received.
type Query struct {
	// Name is the question's name, lower-cased, fully qualified.
	Name string
	// Type is the question's type (dns.TypeMX …).
	Type uint16
	// Proto is "udp" or "tcp".
	Proto string
	// DO and CD are the query's DNSSEC OK and Checking Disabled bits.
	DO, CD bool
	// RD is the query's Recursion Desired bit.
	RD bool
}

// Server is a DNS server answering from a table. Its methods are safe for
// concurrent use, also while it serves.
type Server struct {
	addr string
	stop chan struct{}

	mu        sync.Mutex
	records   map[string][]dns.RR // by lower-cased fully qualified owner
	behaviour map[behaviourKey]Behaviour
	fallback  Behaviour
	queries   []Query
}

// NewServer starts a server on 127.0.0.1 (UDP and TCP, one port) that
// answers from zone, records in zone-file syntax
// ("example.com. 300 IN MX 10 mx1.example.com."). It stops when the test ends.
func NewServer(t testing.TB, zone ...string) *Server {
	t.Helper()
	s := &Server{
		stop:      make(chan struct{}),
		records:   map[string][]dns.RR{},
		behaviour: map[behaviourKey]Behaviour{},
	}
	s.Add(t, zone...)
	udp, tcp := listenPair(t)
	s.addr = udp.LocalAddr().String()
	servers := []*dns.Server{
		{PacketConn: udp, Handler: dns.HandlerFunc(s.serve)},
		{Listener: tcp, Handler: dns.HandlerFunc(s.serve)},
	}
	for _, srv := range servers {
		startServer(t, srv)
	}
	t.Cleanup(func() {
		close(s.stop)
		for _, srv := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			srv.ShutdownContext(ctx)
			cancel()
		}
	})
	return s
}

// Addr returns the server's host:port, the same for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Add puts records, in zone-file syntax, into the table.
func (s *Server) Add(t testing.TB, zone ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range zone {
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			t.Fatalf("dnstest: record %q: %v", line, err)
		}
		owner := dns.CanonicalName(rr.Header().Name)
		s.records[owner] = append(s.records[owner], rr)
	}
}

// behaviourKey selects queries by name and, unless 0, type.
type behaviourKey struct {
	name  string
	qtype uint16
}

// Set makes the server treat queries for name (any case, dot optional) as b.
func (s *Server) Set(name string, b Behaviour) { s.SetType(name, 0, b) }

// SetType makes the server treat queries for name and qtype as b; it
// overrides what Set gave name for that type.
func (s *Server) SetType(name string, qtype uint16, b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviour[behaviourKey{dns.CanonicalName(name), qtype}] = b
}

// SetDefault makes the server treat queries for names without their own
// Behaviour as b.
func (s *Server) SetDefault(b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = b
}

// Queries returns the queries received so far, in order of arrival.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// QueriesFor returns the queries received so far for name and qtype.
func (s *Server) QueriesFor(name string, qtype uint16) []Query {
	var out []Query
	for _, q := range s.Queries() {
		if q.Name == dns.CanonicalName(name) && q.Type == qtype {
			out = append(out, q)
		}
	}
	return out
}

// listenPair opens UDP and TCP listeners on one free loopback port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp
		}
		udp.Close()
		lastErr = err
	}
	t.Fatalf("dnstest: no port free for both UDP and TCP: %v", lastErr)
	return nil, nil
}

// startServer serves srv in the background and waits until it listens.
func startServer(t testing.TB, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { failed <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-failed:
		t.Fatalf("dnstest: serve: %v", err)
	}
}
