package dnsclient

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

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
	start := time.Now()
	reverse, err := dns.ReverseAddr(addr.Unmap().WithZone("").String())
	if err != nil {
		return PTRAnswer{}, fmt.Errorf("reverse name of %s: %w", addr, err)
	}
	set, err := c.lookupBounded(ctx, newQuestion(reverse, dns.TypePTR))
	answer := PTRAnswer{LookupInfo: set.info}
	for _, rr := range set.records {
		answer.Names = append(answer.Names, hostName(rr.(*dns.PTR).Ptr))
	}
	answer.Duration = time.Since(start)
	return answer, err
}

// TLSA is one TLSA record (RFC 6698), its association data decoded.
type TLSA struct {
	Usage        uint8
	Selector     uint8
	MatchingType uint8
	// Data is the certificate association data as bytes.
	Data []byte
}

// TLSAAnswer is the answer to LookupTLSA.
type TLSAAnswer struct {
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
	start := time.Now()
	q := newQuestion(TLSAName(port, host), dns.TypeTLSA)
	set, err := c.lookupBounded(ctx, q)
	answer := TLSAAnswer{LookupInfo: set.info}
	for _, rr := range set.records {
		t := rr.(*dns.TLSA)
		data, decodeErr := hex.DecodeString(t.Certificate)
		if decodeErr != nil && err == nil {
			err = q.fail(Malformed, 0, fmt.Errorf("TLSA data: %w", decodeErr))
		}
		answer.Records = append(answer.Records, TLSA{
			Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: data,
		})
	}
	answer.Duration = time.Since(start)
	return answer, err
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
	start := time.Now()
	set, err := c.lookupBounded(ctx, newQuestion(name, dns.TypeTXT))
	answer := TXTAnswer{LookupInfo: set.info}
	for _, rr := range set.records {
		var joined strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			joined.WriteString(unescapeTXT(s))
		}
		answer.Records = append(answer.Records, joined.String())
	}
	answer.Duration = time.Since(start)
	return answer, err
}
