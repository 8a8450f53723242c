package dane

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
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
// above the leaf, or the certificate or public key a Full(0) record carries
// whole.
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
// names, served or carried whole. The leaf's name does not depend on the
// anchor: once the chain verifies to one, the name check decides.
func authenticatesTA(r Record, chain []*x509.Certificate, refNames []string, now time.Time) (bool, string) {
	var reason string
	for _, anchor := range anchorsFor(r, chain) {
		err := verifyToAnchor(chain, anchor, now)
		if err == nil {
			err = checkNames(chain[0], refNames)
			if err == nil {
				return true, ""
			}
			return false, taReason(r, anchor, err)
		}
		if reason == "" {
			reason = taReason(r, anchor, err)
		}
	}
	return false, reason
}

// taReason says why a DANE-TA record that named anchor did not authenticate.
func taReason(r Record, anchor *x509.Certificate, err error) string {
	return fmt.Sprintf("TLSA %s matched %q: %v", recordText(r), anchor.Subject.String(), err)
}

// anchorsFor returns the trust anchors a DANE-TA record names: the served
// certificates above the leaf that it matches or, when none does, the
// anchor the record carries whole: a certificate (Cert(0) Full(0)) or a
// bare public key (SPKI(1) Full(0), RFC 7671 §5.2.3).
func anchorsFor(r Record, chain []*x509.Certificate) []*x509.Certificate {
	var anchors []*x509.Certificate
	for _, cert := range chain[1:] {
		if Matches(r, cert) {
			anchors = append(anchors, cert)
		}
	}
	if len(anchors) > 0 || r.MatchingType != MatchingFull {
		return anchors
	}
	if r.Selector == SelectorSPKI {
		return keyAnchors(r.Data, chain)
	}
	cert, err := x509.ParseCertificate(r.Data)
	if err != nil || bytes.Equal(cert.Raw, chain[0].Raw) {
		return nil
	}
	return []*x509.Certificate{cert}
}

// keyAnchors turns a bare trust anchor key into certificates x509.Verify
// can chain to: one per issuer name in the served chain, each with that
// name as subject and spki as key. Only a certificate that key signed can
// chain to them.
func keyAnchors(spki []byte, chain []*x509.Certificate) []*x509.Certificate {
	key, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil
	}
	var anchors []*x509.Certificate
	seen := map[string]bool{}
	for _, cert := range chain {
		if seen[string(cert.RawIssuer)] {
			continue
		}
		seen[string(cert.RawIssuer)] = true
		anchors = append(anchors, &x509.Certificate{
			RawSubject: cert.RawIssuer, Subject: cert.Issuer, RawSubjectPublicKeyInfo: spki,
			PublicKey: key, PublicKeyAlgorithm: keyAlgorithm(key),
			Version: 3, BasicConstraintsValid: true, IsCA: true, MaxPathLen: -1,
		})
	}
	return anchors
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

// keyAlgorithm returns the x509 algorithm of a parsed public key.
func keyAlgorithm(key any) x509.PublicKeyAlgorithm {
	switch key.(type) {
	case *rsa.PublicKey:
		return x509.RSA
	case *ecdsa.PublicKey:
		return x509.ECDSA
	case ed25519.PublicKey:
		return x509.Ed25519
	default:
		return x509.UnknownPublicKeyAlgorithm
	}
}
