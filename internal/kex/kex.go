// Package kex names the key exchange of a TLS connection: the group that
// was negotiated, or RSA key transport.
package kex

import (
	"crypto/tls"
	"strings"
)

// RSA is the name Group gives RSA key transport (the TLS_RSA_* suites of
// TLS 1.0–1.2), which has no group and no forward secrecy.
const RSA = "RSA"

// Group returns the key exchange of a completed handshake: the group's name
// ("X25519MLKEM768", "X25519", "P-256" …; GroupName), RSA for RSA key
// transport, and "" when the handshake has not completed.
func Group(state tls.ConnectionState) string {
	switch {
	case !state.HandshakeComplete:
		return ""
	case state.CurveID != 0:
		return GroupName(state.CurveID)
	case strings.HasPrefix(tls.CipherSuiteName(state.CipherSuite), "TLS_RSA_"):
		return RSA
	default:
		return ""
	}
}

// GroupName returns the name of a TLS group: the NIST curves as FIPS 186
// names them ("P-256", "P-384", "P-521"), every other group as crypto/tls
// does, which is the IANA registry's name for the groups it implements
// ("X25519", "X25519MLKEM768", "SecP256r1MLKEM768" …).
func GroupName(id tls.CurveID) string {
	switch id {
	case tls.CurveP256:
		return "P-256"
	case tls.CurveP384:
		return "P-384"
	case tls.CurveP521:
		return "P-521"
	default:
		return id.String()
	}
}
