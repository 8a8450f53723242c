package specialaddr

import (
	"net/netip"
	"testing"
)

// TestSpecial has one address per registry row, and the forms the issue
// found passing the allowlist.
func TestSpecial(t *testing.T) {
	tests := []struct {
		addr string
		want string // the entry's name; "" for a public address
	}{
		{"0.1.2.3", "This network"},
		{"0.0.0.0", "This host on this network"},
		{"0.0.0.1", "This network"},
		{"10.20.30.40", "Private-Use"},
		{"100.64.0.1", "Shared Address Space"},
		{"100.127.255.254", "Shared Address Space"},
		{"127.0.0.1", "Loopback"},
		{"127.255.0.9", "Loopback"},
		{"169.254.169.254", "Link Local"},
		{"172.31.0.1", "Private-Use"},
		{"192.0.0.200", "IETF Protocol Assignments"},
		{"192.0.0.3", "IPv4 Service Continuity Prefix"},
		{"192.0.0.8", "IPv4 dummy address"},
		{"192.0.0.9", "Port Control Protocol Anycast"},
		{"192.0.0.10", "Traversal Using Relays around NAT Anycast"},
		{"192.0.0.170", "NAT64/DNS64 Discovery"},
		{"192.0.0.171", "NAT64/DNS64 Discovery"},
		{"192.0.2.25", "Documentation (TEST-NET-1)"},
		{"192.31.196.1", "AS112-v4"},
		{"192.52.193.1", "AMT"},
		{"192.88.99.1", "Deprecated (6to4 Relay Anycast)"},
		{"192.88.99.2", "6a44-relay anycast address"},
		{"192.168.1.1", "Private-Use"},
		{"192.175.48.6", "Direct Delegation AS112 Service"},
		{"198.18.0.1", "Benchmarking"},
		{"198.19.255.1", "Benchmarking"},
		{"198.51.100.7", "Documentation (TEST-NET-2)"},
		{"203.0.113.9", "Documentation (TEST-NET-3)"},
		{"240.0.0.1", "Reserved"},
		{"255.255.255.255", "Limited Broadcast"},
		{"224.0.0.251", "Multicast"},
		{"239.255.255.250", "Multicast"},

		{"::1", "Loopback Address"},
		{"::", "Unspecified Address"},
		{"64:ff9b:1::1", "IPv4-IPv6 Translat."},
		{"100::1", "Discard-Only Address Block"},
		{"100:0:0:1::1", "Dummy IPv6 Prefix"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "TEREDO"},
		{"2001:1::1", "Port Control Protocol Anycast"},
		{"2001:1::2", "Traversal Using Relays around NAT Anycast"},
		{"2001:1::3", "DNS-SD Service Registration Protocol Anycast"},
		{"2001:100::1", "IETF Protocol Assignments"},
		{"2001:2::25", "Benchmarking"},
		{"2001:3::1", "AMT"},
		{"2001:4:112::1", "AS112-v6"},
		{"2001:10::1", "Deprecated (previously ORCHID)"},
		{"2001:20::1", "ORCHIDv2"},
		{"2001:30::1", "Drone Remote ID Protocol Entity Tags (DETs) Prefix"},
		{"2001:db8::25", "Documentation"},
		{"2620:4f:8000::1", "Direct Delegation AS112 Service"},
		{"3fff::25", "Documentation"},
		{"5f00::1", "Segment Routing (SRv6) SIDs"},
		{"fd00::1", "Unique-Local"},
		{"fe80::1", "Link-Local Unicast"},
		{"fec0::1", "Site-Local (deprecated)"},
		{"ff02::1", "Multicast"},
		{"4000::1", "Unallocated (outside 2000::/3)"},

		// Embedded IPv4 addresses are judged by the embedded address.
		{"::ffff:127.0.0.1", "Loopback"},
		{"::ffff:10.0.0.1", "Private-Use"},
		{"::7f00:1", "Loopback"},
		{"::a00:1", "Private-Use"},
		{"64:ff9b::7f00:1", "Loopback"},
		{"64:ff9b::a9fe:a9fe", "Link Local"},
		{"2002:7f00:1::1", "Loopback"},
		{"2002:c0a8:101::25", "Private-Use"},
		{"2002:6440:1::1", "Shared Address Space"},

		// Public addresses.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"198.17.255.255", ""},
		{"198.20.0.0", ""},
		{"2a00:1450:4001::1a", ""},
		{"2001:200::1", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			addr := netip.MustParseAddr(tt.addr)
			e, special := Special(addr)
			if special != (tt.want != "") || e.Name != tt.want {
				t.Errorf("Special(%s) = %q, %t; want %q", tt.addr, e.Name, special, tt.want)
			}
			if Public(addr) == special {
				t.Errorf("Public(%s) = %t, Special found %t", tt.addr, Public(addr), special)
			}
		})
	}
}

// TestEveryRegistryRowIsSpecial: the first and last address of every row
// are special, so no row is shadowed by the embedding rules.
func TestEveryRegistryRowIsSpecial(t *testing.T) {
	for _, e := range append(IPv4Registry(), IPv6Registry()...) {
		first := e.Prefix.Masked().Addr()
		last := lastAddr(e.Prefix)
		for _, a := range []netip.Addr{first, last} {
			if Public(a) {
				t.Errorf("%s (%s, %s) is judged public", a, e.Prefix, e.Name)
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestInvalidIsNotPublic(t *testing.T) {
	if Public(netip.Addr{}) {
		t.Error("the zero Addr is judged public")
	}
}

func TestEmbedded(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:192.0.2.1":    "192.0.2.1",
		"::c000:201":          "192.0.2.1",
		"64:ff9b::c000:201":   "192.0.2.1",
		"2002:c000:201:5::99": "192.0.2.1",
	} {
		got, ok := Embedded(netip.MustParseAddr(in))
		if !ok || got.String() != want {
			t.Errorf("Embedded(%s) = %s, %t; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"192.0.2.1", "2001:db8::1", "64:ff9b:1::c000:201"} {
		if got, ok := Embedded(netip.MustParseAddr(in)); ok {
			t.Errorf("Embedded(%s) = %s, want none", in, got)
		}
	}
}
