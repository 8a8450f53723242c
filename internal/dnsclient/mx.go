package dnsclient

import (
	"cmp"
	"context"
	"slices"

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
	records, info, err := lookupRecords(ctx, c, newQuestion(domain, dns.TypeMX), func(rr dns.RR) (MX, error) {
		mx := rr.(*dns.MX)
		return MX{Preference: mx.Preference, Host: hostName(mx.Mx)}, nil
	})
	slices.SortFunc(records, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference), cmp.Compare(a.Host, b.Host))
	})
	return MXAnswer{Records: records, LookupInfo: info}, err
}
