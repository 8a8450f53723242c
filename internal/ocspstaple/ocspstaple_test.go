package ocspstaple_test

import (
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"golang.org/x/crypto/ocsp"
)

// pki is a root, the issuing CA it signed, and a leaf that CA issued.
type pki struct {
	root, issuer, leaf *certtest.Cert
}

func newPKI(t testing.TB) pki {
	t.Helper()
	root := certtest.SelfSigned(t, certtest.Spec{CommonName: "Test Root", CA: true})
	issuer := root.Issue(t, certtest.Spec{CommonName: "Test Issuing CA", CA: true})
	leaf := issuer.Issue(t, certtest.Spec{CommonName: "mx.example.test", DNSNames: []string{"mx.example.test"}})
	return pki{root: root, issuer: issuer, leaf: leaf}
}

// served is the chain the server presents.
func (p pki) served() []*x509.Certificate { return certtest.Chain(p.leaf, p.issuer) }

// response describes a staple to make: the CertID's issuer, the signer (its
// certificate as responder ID, embedded unless it is the CertID's issuer,
// and its key) and the template's fields.
type response struct {
	certIDIssuer *certtest.Cert
	signer       *certtest.Cert
	signingKey   crypto.Signer // nil: the signer's key
	embed        bool          // embed the signer's certificate even when it is the issuer
	template     ocsp.Response
}

// clock returns the time to check at, on a whole second as OCSP times are.
func clock() time.Time { return time.Now().Truncate(time.Second) }

// good is a template of a good status at now, current for an hour.
func good(serial *big.Int, now time.Time) ocsp.Response {
	return ocsp.Response{Status: ocsp.Good, SerialNumber: serial, ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour)}
}

// make returns the DER response r describes.
func (r response) make(t *testing.T) []byte {
	t.Helper()
	key := r.signingKey
	if key == nil {
		key = r.signer.Key
	}
	tmpl := r.template
	if r.embed || r.signer != r.certIDIssuer {
		tmpl.Certificate = r.signer.Cert
	}
	der, err := ocsp.CreateResponse(r.certIDIssuer.Cert, r.signer.Cert, tmpl, key)
	if err != nil {
		t.Fatalf("CreateResponse: %v", err)
	}
	return der
}

// wantKind fails t unless err is an *ocspstaple.Error of kind want.
func wantKind(t *testing.T, err error, want ocspstaple.Kind) {
	t.Helper()
	var e *ocspstaple.Error
	if !errors.As(err, &e) || e.Kind != want {
		t.Fatalf("Err = %v, want kind %s", err, want)
	}
}
