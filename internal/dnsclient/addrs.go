package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// AddrsAnswer is the answer to LookupAddrs.
type AddrsAnswer struct {
	// IPv4 and IPv6 hold the addresses of each family, unmapped (an
	// IPv4-mapped AAAA counts as IPv4), without duplicates, sorted so that
	// the same set reads the same on every lookup whatever order the
	// resolver gave.
	IPv4, IPv6 []netip.Addr
	// IPv4Err and IPv6Err hold a family's failure when the other family
	// gave addresses (the lookup as a whole then succeeds).
	IPv4Err, IPv6Err error
	LookupInfo
}

// Addrs returns the IPv6 addresses, then the IPv4 ones.
func (a AddrsAnswer) Addrs() []netip.Addr {
	return append(slices.Clone(a.IPv6), a.IPv4...)
}

// familyResult is the outcome of one family's query.
type familyResult struct {
	set rrset
	err error
}

// LookupAddrs returns host's addresses of network "ip" (A and AAAA, asked
// concurrently), "ip4" (A) or "ip6" (AAAA). A family without records
// (NODATA) is empty, not an error; both empty is an empty answer with a nil
// error. The lookup fails only when no family gave addresses and one
// failed; an NXDOMAIN then wins over other failures. Secure holds when every
// family asked answered securely.
func (c *Client) LookupAddrs(ctx context.Context, host, network string) (AddrsAnswer, error) {
	start := time.Now()
	types, err := familyTypes(network)
	if err != nil {
		return AddrsAnswer{}, err
	}
	ctx, cancel := withBudget(ctx)
	defer cancel()
	results := make([]familyResult, len(types))
	var wg sync.WaitGroup
	for i, qtype := range types {
		wg.Go(func() {
			set, err := c.lookup(ctx, newQuestion(host, qtype))
			results[i] = familyResult{set: set, err: err}
		})
	}
	wg.Wait()
	answer, err := combineFamilies(types, results)
	answer.Duration = time.Since(start)
	return answer, err
}

// familyTypes maps a network name to the query types it needs.
func familyTypes(network string) ([]uint16, error) {
	switch network {
	case "ip":
		return []uint16{dns.TypeA, dns.TypeAAAA}, nil
	case "ip4":
		return []uint16{dns.TypeA}, nil
	case "ip6":
		return []uint16{dns.TypeAAAA}, nil
	}
	return nil, fmt.Errorf("dns lookup: network %q is not ip, ip4 or ip6", network)
}

// combineFamilies joins the per-family results into one answer and error.
func combineFamilies(types []uint16, results []familyResult) (AddrsAnswer, error) {
	answer := AddrsAnswer{LookupInfo: LookupInfo{Secure: true}}
	var failure error
	var records []dns.RR
	for i, r := range results {
		records = append(records, r.set.records...)
		if types[i] == dns.TypeA {
			answer.IPv4Err = r.err
		} else {
			answer.IPv6Err = r.err
		}
		answer.Secure = answer.Secure && r.set.info.Secure // a reply's AD, an authenticated denial included
		answer.Truncated = answer.Truncated || r.set.info.Truncated
		if len(r.set.info.CNAMEs) > len(answer.CNAMEs) {
			answer.CNAMEs = r.set.info.CNAMEs
		}
		failure = worseFailure(failure, r.err)
	}
	answer.IPv4, answer.IPv6 = splitFamilies(addressesOf(records))
	if len(answer.IPv4)+len(answer.IPv6) == 0 {
		answer.IPv4Err, answer.IPv6Err = nil, nil
		return answer, failure
	}
	return answer, nil
}

// worseFailure returns the failure to report of two: an NXDOMAIN first,
// else the first one.
func worseFailure(a, b error) error {
	if a == nil {
		return b
	}
	var e *Error
	if errors.As(b, &e) && e.Kind == NXDomain {
		return b
	}
	return a
}

// splitFamilies splits unmapped addresses into IPv4 and IPv6 ones.
func splitFamilies(addrs []netip.Addr) (v4, v6 []netip.Addr) {
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return v4, v6
}

// addressesOf returns the addresses of A and AAAA records, unmapped,
// sorted and without duplicates.
func addressesOf(records []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range records {
		var ip []byte
		switch r := rr.(type) {
		case *dns.A:
			ip = r.A
		case *dns.AAAA:
			ip = r.AAAA
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, addr.Unmap())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
