package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"time"
)

// Verdict is the outcome of checking a served chain against usable records.
type Verdict struct {
	// Verified: a record authenticated the chain.
	Verified bool
	// Match is the record that authenticated it, the first in record order.
	Match *Record
	// Reason says why no record authenticated the chain; empty when one did.
	Reason string
}

// Verify checks chain, the certificates the server presented (leaf first),
// against usable records, trying them in order; the first that
// authenticates the chain wins.
//
// A DANE-EE record matches the leaf's certificate (selector Cert) or its
// SubjectPublicKeyInfo (selector SPKI); the leaf's names and dates are not
// checked (RFC 7672 §3.1.1).
//
// A DANE-TA record names a trust anchor: a certificate of the served chain
// above the leaf, or the certificate a Full(0) Cert(0) record carries whole.
// The chain must verify to that anchor at now, the served certificates
// between being intermediates, and the leaf must be valid for one of
// refNames: the MX host name and, where it differs, the TLSA base domain
// (RFC 7672 §3.2.2; ReferenceNames). The anchor's own validity period is not
// enforced: its trust comes from DNSSEC, not its dates (RFC 7671 §5.2.2).
func Verify(usable []Record, chain []*x509.Certificate, refNames []string, now time.Time) Verdict {
	if len(usable) == 0 {
		return Verdict{Reason: "no usable TLSA records"}
	}
	if len(chain) == 0 {
		return Verdict{Reason: "no certificate presented"}
	}
	var firstReason string
	for i := range usable {
		r := &usable[i]
		matched, reason := authenticates(*r, chain, refNames, now)
		if matched {
			return Verdict{Verified: true, Match: r}
		}
		if firstReason == "" {
			firstReason = reason
		}
	}
	if firstReason == "" {
		firstReason = "no TLSA record matches the presented chain"
	}
	return Verdict{Reason: firstReason}
}

// authenticates reports whether r authenticates chain; when it does not,
// the reason is non-empty if r matched a certificate but the checks that
// follow a DANE-TA match failed.
func authenticates(r Record, chain []*x509.Certificate, refNames []string, now time.Time) (bool, string) {
	switch r.Usage {
	case UsageDANEEE:
		return Matches(r, chain[0]), ""
	case UsageDANETA:
		return authenticatesTA(r, chain, refNames, now)
	default:
		return false, ""
	}
}

// authenticatesTA checks a DANE-TA record against every trust anchor it
// names, served or carried whole.
func authenticatesTA(r Record, chain []*x509.Certificate, refNames []string, now time.Time) (bool, string) {
	var reason string
	for _, anchor := range anchorsFor(r, chain) {
		err := verifyToAnchor(chain, anchor, now)
		if err == nil {
			err = checkNames(chain[0], refNames)
		}
		if err == nil {
			return true, ""
		}
		if reason == "" {
			reason = fmt.Sprintf("TLSA %s matched %q: %v", recordText(r), anchor.Subject.String(), err)
		}
	}
	return false, reason
}

// anchorsFor returns the trust anchors a DANE-TA record names: the served
// certificates above the leaf that it matches, then the certificate it
// carries whole (Cert(0) Full(0)) when that is not served.
func anchorsFor(r Record, chain []*x509.Certificate) []*x509.Certificate {
	var anchors []*x509.Certificate
	for _, cert := range chain[1:] {
		if Matches(r, cert) {
			anchors = append(anchors, cert)
		}
	}
	if len(anchors) > 0 || r.Selector != SelectorCert || r.MatchingType != MatchingFull {
		return anchors
	}
	cert, err := x509.ParseCertificate(r.Data)
	if err != nil || bytes.Equal(cert.Raw, chain[0].Raw) {
		return nil
	}
	return []*x509.Certificate{cert}
}

// verifyToAnchor verifies chain at now with anchor as the only root and the
// served certificates other than the leaf and the anchor as intermediates.
// The anchor's validity period is widened to include now: a trust anchor
// from DNS is not subject to its own dates.
func verifyToAnchor(chain []*x509.Certificate, anchor *x509.Certificate, now time.Time) error {
	root := *anchor
	if now.Before(root.NotBefore) {
		root.NotBefore = now
	}
	if now.After(root.NotAfter) {
		root.NotAfter = now
	}
	roots := x509.NewCertPool()
	roots.AddCert(&root)
	intermediates := x509.NewCertPool()
	for _, cert := range chain[1:] {
		if !bytes.Equal(cert.Raw, anchor.Raw) {
			intermediates.AddCert(cert)
		}
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("chain does not verify to the trust anchor: %w", err)
	}
	return nil
}

// Matches reports whether r's data matches cert: the certificate or its
// SubjectPublicKeyInfo, as selected, compared whole or by digest as bytes.
// The usage is not considered.
func Matches(r Record, cert *x509.Certificate) bool {
	var content []byte
	switch r.Selector {
	case SelectorCert:
		content = cert.Raw
	case SelectorSPKI:
		content = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch r.MatchingType {
	case MatchingFull:
		return bytes.Equal(content, r.Data)
	case MatchingSHA256:
		sum := sha256.Sum256(content)
		return bytes.Equal(sum[:], r.Data)
	case MatchingSHA512:
		sum := sha512.Sum512(content)
		return bytes.Equal(sum[:], r.Data)
	default:
		return false
	}
}

// recordText is the record's parameters as in zone files: "2 0 1".
func recordText(r Record) string {
	return fmt.Sprintf("%d %d %d", r.Usage, r.Selector, r.MatchingType)
}
