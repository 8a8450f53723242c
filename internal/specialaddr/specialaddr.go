// Package specialaddr judges whether an IP address is public: outside every
// range of the IANA IPv4 and IPv6 Special-Purpose Address Registries, with
// IPv4 addresses embedded in IPv6 ones judged by the embedded address.
package specialaddr

import (
	"net/netip"
)

// Entry is one row of an IANA special-purpose address registry.
type Entry struct {
	// Prefix is the registered block.
	Prefix netip.Prefix
	// Name is the registry's name for the block.
	Name string
	// RFC is the document that registered it.
	RFC string
}

func entry(prefix, name, rfc string) Entry {
	return Entry{Prefix: netip.MustParsePrefix(prefix), Name: name, RFC: rfc}
}

// IPv4Registry returns the IANA IPv4 Special-Purpose Address Registry, one
// entry per registry row, plus multicast (RFC 5771), which the registry
// leaves to its own, and which is never a unicast mail server.
func IPv4Registry() []Entry {
	return []Entry{
		entry("0.0.0.0/8", "This network", "RFC 791"),
		entry("0.0.0.0/32", "This host on this network", "RFC 1122"),
		entry("10.0.0.0/8", "Private-Use", "RFC 1918"),
		entry("100.64.0.0/10", "Shared Address Space", "RFC 6598"),
		entry("127.0.0.0/8", "Loopback", "RFC 1122"),
		entry("169.254.0.0/16", "Link Local", "RFC 3927"),
		entry("172.16.0.0/12", "Private-Use", "RFC 1918"),
		entry("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"),
		entry("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
		entry("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
		entry("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723"),
		entry("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
		entry("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880"),
		entry("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880"),
		entry("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
		entry("192.31.196.0/24", "AS112-v4", "RFC 7535"),
		entry("192.52.193.0/24", "AMT", "RFC 7450"),
		entry("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
		entry("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751"),
		entry("192.168.0.0/16", "Private-Use", "RFC 1918"),
		entry("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"),
		entry("198.18.0.0/15", "Benchmarking", "RFC 2544"),
		entry("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
		entry("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
		entry("240.0.0.0/4", "Reserved", "RFC 1112"),
		entry("255.255.255.255/32", "Limited Broadcast", "RFC 919"),
		entry("224.0.0.0/4", "Multicast", "RFC 5771"),
	}
}

// IPv6Registry returns the IANA IPv6 Special-Purpose Address Registry, one
// entry per registry row, plus the blocks of the IPv6 Address Space
// registry that are not global unicast: site-local (deprecated, RFC 3879),
// multicast, and everything outside 2000::/3 is judged by Public itself.
func IPv6Registry() []Entry {
	return []Entry{
		entry("::1/128", "Loopback Address", "RFC 4291"),
		entry("::/128", "Unspecified Address", "RFC 4291"),
		entry("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291"),
		entry("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052"),
		entry("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215"),
		entry("100::/64", "Discard-Only Address Block", "RFC 6666"),
		entry("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
		entry("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
		entry("2001::/32", "TEREDO", "RFC 4380"),
		entry("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723"),
		entry("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
		entry("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
		entry("2001:2::/48", "Benchmarking", "RFC 5180"),
		entry("2001:3::/32", "AMT", "RFC 7450"),
		entry("2001:4:112::/48", "AS112-v6", "RFC 7535"),
		entry("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),
		entry("2001:20::/28", "ORCHIDv2", "RFC 7343"),
		entry("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374"),
		entry("2001:db8::/32", "Documentation", "RFC 3849"),
		entry("2002::/16", "6to4", "RFC 3056"),
		entry("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534"),
		entry("3fff::/20", "Documentation", "RFC 9637"),
		entry("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
		entry("fc00::/7", "Unique-Local", "RFC 4193"),
		entry("fe80::/10", "Link-Local Unicast", "RFC 4291"),
		entry("fec0::/10", "Site-Local (deprecated)", "RFC 3879"),
		entry("ff00::/8", "Multicast", "RFC 4291"),
	}
}

// The registries, read-only after package initialisation.
var (
	ipv4Registry = IPv4Registry()
	ipv6Registry = IPv6Registry()
)

// globalUnicast6 is where IANA allocates global unicast IPv6 addresses.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// Special returns the most specific registry entry that holds addr,
// judging an IPv6 address that embeds an IPv4 one (IPv4-mapped,
// IPv4-compatible, NAT64 64:ff9b::/96, 6to4) by the embedded address. An
// IPv6 address outside 2000::/3 that no entry names is reported as
// unallocated, and an invalid address as invalid.
func Special(addr netip.Addr) (Entry, bool) {
	if !addr.IsValid() {
		return Entry{Name: "Invalid address"}, true
	}
	addr = addr.WithZone("")
	if v4, ok := Embedded(addr); ok {
		addr = v4
	}
	table := ipv6Registry
	if addr.Is4() {
		table = ipv4Registry
	}
	var best Entry
	found := false
	for _, e := range table {
		if e.Prefix.Contains(addr) && (!found || e.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = e, true
		}
	}
	if !found && addr.Is6() && !globalUnicast6.Contains(addr) {
		return Entry{Prefix: netip.PrefixFrom(addr, 128), Name: "Unallocated (outside 2000::/3)", RFC: "RFC 4291"}, true
	}
	return best, found
}

// Public reports whether addr lies outside every special-purpose range.
func Public(addr netip.Addr) bool {
	_, special := Special(addr)
	return !special
}

// The IPv6 forms that carry an IPv4 address.
var (
	mapped     = netip.MustParsePrefix("::ffff:0:0/96")
	compatible = netip.MustParsePrefix("::/96")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// Embedded returns the IPv4 address that an IPv4-mapped, IPv4-compatible,
// NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address carries.
func Embedded(addr netip.Addr) (netip.Addr, bool) {
	if !addr.Is6() {
		return netip.Addr{}, false
	}
	b := addr.As16()
	switch {
	case addr == netip.IPv6Unspecified() || addr == netip.IPv6Loopback():
		return netip.Addr{}, false // in ::/96, but not IPv4-compatible (RFC 4291 §2.5.5.1)
	case mapped.Contains(addr), compatible.Contains(addr), nat64.Contains(addr):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
