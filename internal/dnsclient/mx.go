package dnsclient

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// MX is one mail exchanger record.
type MX struct {
	// Preference orders the hosts: lower first.
	Preference uint16
	// Host is the exchanger's name, lower-cased, without the trailing dot;
	// "." for a null MX (RFC 7505).
	Host string
}

// IsNull reports whether the record is a null MX's "." target (RFC 7505).
func (m MX) IsNull() bool { return m.Host == "." }

// MXAnswer is the answer to LookupMX.
type MXAnswer struct {
	// Records are sorted by preference, then host name.
	Records []MX
	LookupInfo
}

// LookupMX returns the MX records of domain. A domain without MX records
// (NODATA) gives an empty answer and no error.
func (c *Client) LookupMX(ctx context.Context, domain string) (MXAnswer, error) {
	start := time.Now()
	set, err := c.lookupBounded(ctx, newQuestion(domain, dns.TypeMX))
	answer := MXAnswer{LookupInfo: set.info}
	for _, rr := range set.records {
		mx := rr.(*dns.MX)
		answer.Records = append(answer.Records, MX{Preference: mx.Preference, Host: hostName(mx.Mx)})
	}
	slices.SortFunc(answer.Records, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference), cmp.Compare(a.Host, b.Host))
	})
	answer.Duration = time.Since(start)
	return answer, err
}

// lookupBounded is lookup under a context that has a deadline.
func (c *Client) lookupBounded(ctx context.Context, q question) (rrset, error) {
	ctx, cancel := withBudget(ctx)
	defer cancel()
	return c.lookup(ctx, q)
}
