package dnstest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// NewUDPResponder starts a UDP responder on 127.0.0.1 that answers each
// query with the bytes respond returns (nothing when it returns nil): a
// hostile or broken server, whose replies need not match the query or be
// DNS at all. It stops when the test ends. It returns its host:port.
func NewUDPResponder(t testing.TB, respond func(query *dns.Msg) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go respondLoop(pc, respond)
	return pc.LocalAddr().String()
}

// respondLoop answers packets on pc until it is closed.
func respondLoop(pc net.PacketConn, respond func(query *dns.Msg) []byte) {
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		query := new(dns.Msg)
		if query.Unpack(buf[:n]) != nil {
			continue
		}
		if reply := respond(query); reply != nil {
			pc.WriteTo(reply, from)
		}
	}
}
