package dnsclient

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// PTRAnswer is the answer to LookupPTR.
type PTRAnswer struct {
	// Names are the PTR targets, lower-cased, without the trailing dot.
	Names []string
	LookupInfo
}

// LookupPTR returns the names that addr's reverse zone (in-addr.arpa or
// ip6.arpa) gives it.
func (c *Client) LookupPTR(ctx context.Context, addr netip.Addr) (PTRAnswer, error) {
	reverse, err := dns.ReverseAddr(addr.Unmap().WithZone("").String())
	if err != nil {
		return PTRAnswer{}, fmt.Errorf("reverse name of %s: %w", addr, err)
	}
	names, info, err := lookupRecords(ctx, c, newQuestion(reverse, dns.TypePTR), func(rr dns.RR) (string, error) {
		return hostName(rr.(*dns.PTR).Ptr), nil
	})
	return PTRAnswer{Names: names, LookupInfo: info}, err
}

// TLSA is one TLSA record (RFC 6698), its association data decoded.
type TLSA struct {
	// Usage is the certificate usage: 2 DANE-TA, 3 DANE-EE (0 and 1 are
	// PKIX usages, which SMTP does not use).
	Usage uint8
	// Selector is 0 for the full certificate, 1 for its SubjectPublicKeyInfo.
	Selector uint8
	// MatchingType is 0 for the data itself, 1 for SHA-256, 2 for SHA-512.
	MatchingType uint8
	// Data is the certificate association data as bytes.
	Data []byte
}

// TLSAAnswer is the answer to LookupTLSA.
type TLSAAnswer struct {
	// Records are in the order of the answer, duplicates kept.
	Records []TLSA
	LookupInfo
}

// TLSAName returns the name TLSA records for a TCP service live at:
// "_<port>._tcp.<host>".
func TLSAName(port int, host string) string {
	return "_" + strconv.Itoa(port) + "._tcp." + host
}

// LookupTLSA returns the TLSA records of host's TCP port. An empty answer
// with a nil error is a denial that such records exist; whether that denial
// is trustworthy is Secure.
func (c *Client) LookupTLSA(ctx context.Context, port int, host string) (TLSAAnswer, error) {
	q := newQuestion(TLSAName(port, host), dns.TypeTLSA)
	records, info, err := lookupRecords(ctx, c, q, func(rr dns.RR) (TLSA, error) {
		t := rr.(*dns.TLSA)
		data, err := hex.DecodeString(t.Certificate)
		return TLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: data}, err
	})
	return TLSAAnswer{Records: records, LookupInfo: info}, err
}

// TXTAnswer is the answer to LookupTXT.
type TXTAnswer struct {
	// Records holds each TXT record's character-strings concatenated with
	// nothing between them (RFC 7208 §3.3, RFC 8461 §3.1), as raw bytes.
	Records []string
	LookupInfo
}

// LookupTXT returns the TXT records of name.
func (c *Client) LookupTXT(ctx context.Context, name string) (TXTAnswer, error) {
	records, info, err := lookupRecords(ctx, c, newQuestion(name, dns.TypeTXT), func(rr dns.RR) (string, error) {
		var joined strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			joined.WriteString(unescapeTXT(s))
		}
		return joined.String(), nil
	})
	return TXTAnswer{Records: records, LookupInfo: info}, err
}
