package dnstest

import (
	"maps"
	"net/netip"
	"slices"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// Client returns a DNS client that asks s, with or without DNSSEC.
func (s *Server) Client(t testing.TB, dnssec bool) *dnsclient.Client {
	t.Helper()
	c, err := dnsclient.New(dnsclient.Options{Server: s.Addr(), DNSSEC: dnssec})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Hosts returns zone lines giving each name its addresses: A records for
// IPv4 addresses, AAAA for IPv6 ones.
func Hosts(hosts map[string][]netip.Addr) []string {
	var zone []string
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		for _, a := range hosts[name] {
			rtype := "AAAA"
			if a.Unmap().Is4() {
				rtype = "A"
			}
			zone = append(zone, name+". 60 IN "+rtype+" "+a.Unmap().String())
		}
	}
	return zone
}
