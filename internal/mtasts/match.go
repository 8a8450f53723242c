package mtasts

import (
	"crypto/tls"
	"strings"
)

// MatchMX reports whether host matches one of a policy's mx patterns
// (RFC 8461 §4.1): a pattern equal to host, or "*." and a domain where host
// is that domain with exactly one more label in front. Case and a trailing
// dot on either side do not matter.
func MatchMX(patterns []string, host string) bool {
	host = normalizeDomain(host)
	if host == "" {
		return false
	}
	for _, p := range patterns {
		if matchPattern(normalizeDomain(p), host) {
			return true
		}
	}
	return false
}

// matchPattern matches one normalized pattern against a normalized host.
func matchPattern(pattern, host string) bool {
	suffix, wildcard := strings.CutPrefix(pattern, "*.")
	if !wildcard {
		return pattern == host
	}
	label, rest, ok := strings.Cut(host, ".")
	return ok && suffix != "" && label != "" && rest == suffix
}

// normalizeDomain lower-cases a domain name and drops a trailing dot.
func normalizeDomain(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// Session is what an SMTP session to an MX host showed that RFC 8461 §4
// judges.
type Session struct {
	// MXMatched: the MX host matches the policy (MatchMX).
	MXMatched bool
	// TLSVersion is the negotiated version (tls.VersionTLS12 …); 0 when the
	// session never reached TLS.
	TLSVersion uint16
	// ChainVerified: the served chain verifies to a trusted root and no
	// certificate in it has expired.
	ChainVerified bool
	// NameMatched: the leaf certificate names the MX host.
	NameMatched bool
}

// Valid reports whether a sender that applies the policy may deliver over
// this session (RFC 8461 §4): the MX matches, TLS 1.2 or later was
// negotiated, the chain verifies and the leaf names the MX host.
func (s Session) Valid() bool {
	return s.MXMatched && s.TLSVersion >= tls.VersionTLS12 && s.ChainVerified && s.NameMatched
}
