package ocspstaple_test

import (
	"crypto"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"golang.org/x/crypto/ocsp"
)

func TestVerifiedStatuses(t *testing.T) {
	p := newPKI(t)
	now := clock()
	serial := p.leaf.Cert.SerialNumber
	revoked := good(serial, now)
	revoked.Status, revoked.RevokedAt, revoked.RevocationReason = ocsp.Revoked, now.Add(-3*time.Hour), ocsp.KeyCompromise
	unknown := good(serial, now)
	unknown.Status = ocsp.Unknown
	sha256 := good(serial, now)
	sha256.IssuerHash = crypto.SHA256
	noNext := good(serial, now)
	noNext.NextUpdate = time.Time{}
	skewed := good(serial, now)
	skewed.ThisUpdate = now.Add(2 * time.Minute)
	for _, tc := range []struct {
		name   string
		tmpl   ocsp.Response
		status ocspstaple.Status
	}{
		{"good", good(serial, now), ocspstaple.Good},
		{"revoked", revoked, ocspstaple.Revoked},
		{"unknown", unknown, ocspstaple.Unknown},
		{"SHA-256 CertID", sha256, ocspstaple.Good},
		{"no nextUpdate", noNext, ocspstaple.Good},
		{"thisUpdate within the skew", skewed, ocspstaple.Good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := response{certIDIssuer: p.issuer, signer: p.issuer, template: tc.tmpl}.make(t)
			r := ocspstaple.Check(der, p.served(), now)
			if !r.Stapled || !r.Verified || r.Err != nil || r.Status != tc.status {
				t.Fatalf("got %+v, want verified %s", r, tc.status)
			}
			if !r.ThisUpdate.Equal(tc.tmpl.ThisUpdate) || !r.NextUpdate.Equal(tc.tmpl.NextUpdate) {
				t.Errorf("ThisUpdate %s, NextUpdate %s; want %s, %s", r.ThisUpdate, r.NextUpdate, tc.tmpl.ThisUpdate, tc.tmpl.NextUpdate)
			}
			if !r.RevokedAt.Equal(tc.tmpl.RevokedAt) || r.RevocationReason != tc.tmpl.RevocationReason {
				t.Errorf("RevokedAt %s reason %d; want %s reason %d", r.RevokedAt, r.RevocationReason, tc.tmpl.RevokedAt, tc.tmpl.RevocationReason)
			}
		})
	}
}

// TestRejected: every way a staple fails its checks leaves it unverified,
// with no status or times, and the kind of the failure.
func TestRejected(t *testing.T) {
	p := newPKI(t)
	now := clock()
	serial := p.leaf.Cert.SerialNumber
	stranger := certtest.SelfSigned(t, certtest.Spec{CommonName: "Stranger CA", CA: true})
	expired := good(serial, now)
	expired.ThisUpdate, expired.NextUpdate = now.Add(-2*time.Hour), now.Add(-time.Minute)
	ahead := good(serial, now)
	ahead.ThisUpdate, ahead.NextUpdate = now.Add(10*time.Minute), now.Add(2*time.Hour)
	for _, tc := range []struct {
		name  string
		resp  response
		chain []*x509.Certificate
		want  ocspstaple.Kind
	}{
		{"signed by another key", response{certIDIssuer: p.issuer, signer: p.issuer, signingKey: certtest.NewKey(t), template: good(serial, now)}, nil, ocspstaple.BadSignature},
		{"signed by another key, issuer embedded", response{certIDIssuer: p.issuer, signer: p.issuer, signingKey: certtest.NewKey(t), embed: true, template: good(serial, now)}, nil, ocspstaple.Malformed},
		{"signed by another CA", response{certIDIssuer: p.issuer, signer: stranger, template: good(serial, now)}, nil, ocspstaple.UnauthorizedResponder},
		{"another serial", response{certIDIssuer: p.issuer, signer: p.issuer, template: good(big.NewInt(42), now)}, nil, ocspstaple.OtherCertificate},
		{"another issuer's CertID", response{certIDIssuer: stranger, signer: p.issuer, embed: true, template: good(serial, now)}, nil, ocspstaple.OtherCertificate},
		{"expired", response{certIDIssuer: p.issuer, signer: p.issuer, template: expired}, nil, ocspstaple.Expired},
		{"thisUpdate ahead", response{certIDIssuer: p.issuer, signer: p.issuer, template: ahead}, nil, ocspstaple.NotYetValid},
		{"no issuer served", response{certIDIssuer: p.issuer, signer: p.issuer, template: good(serial, now)}, certtest.Chain(p.leaf), ocspstaple.NoIssuer},
		{"second certificate not the issuer", response{certIDIssuer: p.issuer, signer: p.issuer, template: good(serial, now)}, certtest.Chain(p.leaf, p.root), ocspstaple.NoIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain := tc.chain
			if chain == nil {
				chain = p.served()
			}
			checkRejected(t, ocspstaple.Check(tc.resp.make(t), chain, now), tc.want)
		})
	}
}

// checkRejected fails t unless r is a stapled, unverified result of kind want.
func checkRejected(t *testing.T, r ocspstaple.Result, want ocspstaple.Kind) {
	t.Helper()
	if !r.Stapled || r.Verified || r.Status != 0 || !r.NextUpdate.IsZero() || !r.ThisUpdate.IsZero() {
		t.Errorf("got %+v, want stapled, unverified, no status or times", r)
	}
	wantKind(t, r.Err, want)
}

// TestDelegatedResponder: a responder certificate the issuer signed
// verifies with the OCSP-signing EKU, and only then, and only while valid.
func TestDelegatedResponder(t *testing.T) {
	p := newPKI(t)
	now := clock()
	serial := p.leaf.Cert.SerialNumber
	ocspEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	delegated := p.issuer.Issue(t, certtest.Spec{CommonName: "OCSP Responder", ExtKeyUsage: ocspEKU})
	serverAuth := p.issuer.Issue(t, certtest.Spec{CommonName: "Not a Responder"})
	lapsed := p.issuer.Issue(t, certtest.Spec{CommonName: "Old Responder", ExtKeyUsage: ocspEKU, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	byRoot := p.root.Issue(t, certtest.Spec{CommonName: "Root's Responder", ExtKeyUsage: ocspEKU})

	r := ocspstaple.Check(response{certIDIssuer: p.issuer, signer: delegated, template: good(serial, now)}.make(t), p.served(), now)
	if !r.Verified || r.Status != ocspstaple.Good {
		t.Fatalf("delegated responder with the EKU: %+v", r)
	}
	for name, signer := range map[string]*certtest.Cert{"without the EKU": serverAuth, "expired": lapsed, "signed by the root": byRoot} {
		r := ocspstaple.Check(response{certIDIssuer: p.issuer, signer: signer, template: good(serial, now)}.make(t), p.served(), now)
		t.Run(name, func(t *testing.T) { checkRejected(t, r, ocspstaple.UnauthorizedResponder) })
	}
}

// TestIssuerEmbedded: a response that carries the issuer's own certificate
// is checked as signed by the issuer.
func TestIssuerEmbedded(t *testing.T) {
	p := newPKI(t)
	now := clock()
	der := response{certIDIssuer: p.issuer, signer: p.issuer, embed: true, template: good(p.leaf.Cert.SerialNumber, now)}.make(t)
	if r := ocspstaple.Check(der, p.served(), now); !r.Verified {
		t.Errorf("got %+v, want verified", r)
	}
}

func TestNotAResponse(t *testing.T) {
	p := newPKI(t)
	now := clock()
	if r := ocspstaple.Check(nil, p.served(), now); r.Stapled || r.Verified || r.Err != nil {
		t.Errorf("no staple: %+v", r)
	}
	for name, der := range map[string][]byte{
		"garbage":          []byte("not DER at all"),
		"trailing bytes":   append(response{certIDIssuer: p.issuer, signer: p.issuer, template: good(p.leaf.Cert.SerialNumber, now)}.make(t), 0),
		"empty SEQUENCE":   {0x30, 0x00},
		"truncated length": {0x30, 0x82, 0xff},
	} {
		t.Run(name, func(t *testing.T) { checkRejected(t, ocspstaple.Check(der, p.served(), now), ocspstaple.Malformed) })
	}
	for name, der := range map[string][]byte{
		"tryLater":      ocsp.TryLaterErrorResponse,
		"internalError": ocsp.InternalErrorErrorResponse,
	} {
		t.Run(name, func(t *testing.T) { checkRejected(t, ocspstaple.Check(der, p.served(), now), ocspstaple.Unsuccessful) })
	}
}
