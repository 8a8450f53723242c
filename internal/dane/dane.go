// Package dane judges the TLSA records of an SMTP server (RFC 6698, RFC
// 7671, RFC 7672) and checks a served certificate chain against them.
//
// Assess turns the answer of a TLSA lookup into a State and the distinct
// usable records; Verify tells whether one of those records authenticates
// the chain the server presented. Both are pure: the DNS lookup and the TLS
// handshake belong to the caller.
package dane

import (
	"bytes"
	"strconv"
)

// State is what a TLSA lookup says about DANE for one endpoint.
type State string

const (
	// StateNone: DNSSEC proves that there are no TLSA records (secure
	// NXDOMAIN or NODATA, and the host's address records secure too).
	StateNone State = "none"
	// StateInsecure: the TLSA answer or the host's address answer is not
	// DNSSEC-secure, so DANE does not apply (RFC 7672 §2.1).
	StateInsecure State = "insecure"
	// StateUnusable: secure TLSA records exist, none of them usable.
	StateUnusable State = "unusable"
	// StateUsable: at least one secure, usable TLSA record exists; a DANE
	// sender will authenticate the server with it.
	StateUsable State = "usable"
	// StateError: the lookup failed (SERVFAIL, REFUSED, timeout, network,
	// malformed reply). A DANE sender defers delivery; it is never read as
	// "no TLSA".
	StateError State = "error"
)

// Certificate usages, selectors and matching types that SMTP uses
// (RFC 7672 §3.1).
const (
	// UsageDANETA is DANE-TA(2): the record names a trust anchor.
	UsageDANETA uint8 = 2
	// UsageDANEEE is DANE-EE(3): the record names the server's own
	// certificate or key.
	UsageDANEEE uint8 = 3
	// SelectorCert is Cert(0): the record covers the whole certificate.
	SelectorCert uint8 = 0
	// SelectorSPKI is SPKI(1): the record covers the SubjectPublicKeyInfo.
	SelectorSPKI uint8 = 1
	// MatchingFull is Full(0): the data is the selected content itself.
	MatchingFull uint8 = 0
	// MatchingSHA256 is SHA2-256(1): the data is the content's SHA-256.
	MatchingSHA256 uint8 = 1
	// MatchingSHA512 is SHA2-512(2): the data is the content's SHA-512.
	MatchingSHA512 uint8 = 2
)

// Record is one TLSA record, its association data as bytes.
type Record struct {
	// Usage is the certificate usage (UsageDANETA, UsageDANEEE …).
	Usage uint8
	// Selector is SelectorCert or SelectorSPKI.
	Selector uint8
	// MatchingType is MatchingFull, MatchingSHA256 or MatchingSHA512.
	MatchingType uint8
	// Data is the certificate association data.
	Data []byte
}

// Equal reports whether r and o are the same record, data compared as bytes.
func (r Record) Equal(o Record) bool {
	return r.Usage == o.Usage && r.Selector == o.Selector &&
		r.MatchingType == o.MatchingType && bytes.Equal(r.Data, o.Data)
}

// Params returns the record's usage, selector and matching type as
// decimal text, as the labels of probe_smtp_dane_match_info carry them.
func (r Record) Params() (usage, selector, matchingType string) {
	return strconv.Itoa(int(r.Usage)), strconv.Itoa(int(r.Selector)), strconv.Itoa(int(r.MatchingType))
}
