// Package ocspstaple checks the OCSP response a TLS server stapled to its
// handshake (RFC 6960, RFC 6066 §8): whether it is a response for the
// server's leaf certificate, signed by the leaf's issuer as served in the
// chain (directly or through a delegated responder), and current.
package ocspstaple

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/ocsp"
)

// MaxSkew is how far ahead of the checker's clock a response's ThisUpdate
// may lie: the responder's clock and ours differ a little.
const MaxSkew = 5 * time.Minute

// Status is a certificate's status as a verified response gives it; the
// values are those of probe_smtp_ocsp_status.
type Status int

const (
	// Good: the certificate is not revoked.
	Good Status = ocsp.Good
	// Revoked: the certificate is revoked.
	Revoked Status = ocsp.Revoked
	// Unknown: the responder does not know the certificate.
	Unknown Status = ocsp.Unknown
)

// String returns "good", "revoked" or "unknown".
func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	case Unknown:
		return "unknown"
	default:
		return "status(" + strconv.Itoa(int(s)) + ")"
	}
}

// Result is what a staple says. Only a Verified result's status and times
// are set: nothing an unverified response claims is reported.
type Result struct {
	// Stapled: the server stapled a response (non-empty).
	Stapled bool
	// Verified: the response is for the leaf, signed by its issuer or a
	// responder the issuer authorised, and current at the time of the check.
	Verified bool
	// Status is the leaf's status; meaningful only when Verified.
	Status Status
	// ThisUpdate and NextUpdate bound the response's validity; NextUpdate is
	// zero when the responder gave none.
	ThisUpdate, NextUpdate time.Time
	// RevokedAt and RevocationReason (RFC 5280 CRLReason) are set for a
	// revoked leaf.
	RevokedAt        time.Time
	RevocationReason int
	// Err says why a stapled response was not verified: an *Error.
	Err error
}

// Check checks staple, the OCSP response a server stapled, against chain,
// the certificates it presented (leaf first; the issuer is chain[1]), at now.
func Check(staple []byte, chain []*x509.Certificate, now time.Time) Result {
	if len(staple) == 0 {
		return Result{}
	}
	resp, err := verify(staple, chain, now)
	if err != nil {
		return Result{Stapled: true, Err: err}
	}
	r := Result{
		Stapled: true, Verified: true, Status: Status(resp.Status),
		ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate,
	}
	if r.Status == Revoked {
		r.RevokedAt, r.RevocationReason = resp.RevokedAt, resp.RevocationReason
	}
	return r
}

// verify returns the parsed response when it passes every check.
func verify(staple []byte, chain []*x509.Certificate, now time.Time) (*ocsp.Response, error) {
	leaf, issuer, err := leafAndIssuer(chain)
	if err != nil {
		return nil, err
	}
	ids, err := certIDs(staple)
	if err != nil {
		return nil, err
	}
	id, err := forSerial(ids, leaf.SerialNumber)
	if err != nil {
		return nil, err
	}
	resp, err := ocsp.ParseResponseForCert(staple, leaf, nil)
	if err != nil {
		return nil, fail(Malformed, "%w", err)
	}
	for _, check := range []func() error{
		func() error { return checkIssuerHashes(id, resp.IssuerHash, leaf, issuer) },
		func() error { return checkSigner(resp, issuer, now) },
		func() error { return checkTimes(resp, now) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// leafAndIssuer returns chain[0] and chain[1], when chain[1] signed chain[0].
func leafAndIssuer(chain []*x509.Certificate) (leaf, issuer *x509.Certificate, err error) {
	if len(chain) < 2 {
		return nil, nil, fail(NoIssuer, "the server presented %d certificate(s), no issuer", len(chain))
	}
	leaf, issuer = chain[0], chain[1]
	if err := leaf.CheckSignatureFrom(issuer); err != nil {
		return nil, nil, fail(NoIssuer, "the second certificate %q did not issue the leaf: %w", issuer.Subject.String(), err)
	}
	return leaf, issuer, nil
}

// checkIssuerHashes checks that id names issuer, by name and key hash.
func checkIssuerHashes(id certID, hash crypto.Hash, leaf, issuer *x509.Certificate) error {
	der, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: hash})
	if err != nil {
		return fail(Malformed, "issuer hash %v: %w", hash, err)
	}
	want, err := ocsp.ParseRequest(der)
	if err != nil {
		return fail(Malformed, "issuer hash %v: %w", hash, err)
	}
	if !bytes.Equal(id.NameHash, want.IssuerNameHash) || !bytes.Equal(id.IssuerKeyHash, want.IssuerKeyHash) {
		return fail(OtherCertificate, "the response is for serial %x of another issuer than %q", leaf.SerialNumber, issuer.Subject.String())
	}
	return nil
}

// checkSigner checks that issuer signed resp, or a responder certificate
// that issuer signed for OCSP signing. crypto/ocsp has already checked
// that an embedded responder certificate's key signed resp.
func checkSigner(resp *ocsp.Response, issuer *x509.Certificate, now time.Time) error {
	responder := resp.Certificate
	if responder == nil || bytes.Equal(responder.Raw, issuer.Raw) {
		if err := resp.CheckSignatureFrom(issuer); err != nil {
			return fail(BadSignature, "not signed by the issuer %q: %w", issuer.Subject.String(), err)
		}
		return nil
	}
	name := responder.Subject.String()
	if err := responder.CheckSignatureFrom(issuer); err != nil {
		return fail(UnauthorizedResponder, "responder %q not signed by the issuer: %w", name, err)
	}
	if !slices.Contains(responder.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return fail(UnauthorizedResponder, "responder %q lacks the OCSP signing extended key usage", name)
	}
	if now.Before(responder.NotBefore) || now.After(responder.NotAfter) {
		return fail(UnauthorizedResponder, "responder %q is valid from %s to %s", name, responder.NotBefore, responder.NotAfter)
	}
	return nil
}

// checkTimes checks that resp is current at now, within MaxSkew.
func checkTimes(resp *ocsp.Response, now time.Time) error {
	if resp.ThisUpdate.After(now.Add(MaxSkew)) {
		return fail(NotYetValid, "thisUpdate %s is ahead", resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(now) {
		return fail(Expired, "nextUpdate %s has passed", resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}
