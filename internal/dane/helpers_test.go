package dane_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/dane"
)

// mxHost is the MX host name the test certificates are made for.
const mxHost = "mx.example.test"

// pki is a root CA, an intermediate it signed and a leaf for mxHost that the
// intermediate signed.
type pki struct {
	root, inter, leaf *certtest.Cert
}

// newPKI makes a pki whose leaf has spec's names and dates (CommonName and
// DNSNames default to mxHost).
func newPKI(t testing.TB, leaf certtest.Spec) pki {
	t.Helper()
	root := certtest.SelfSigned(t, certtest.Spec{CommonName: "Test Root", CA: true})
	inter := root.Issue(t, certtest.Spec{CommonName: "Test Intermediate", CA: true})
	if leaf.CommonName == "" && leaf.DNSNames == nil {
		leaf.CommonName, leaf.DNSNames = mxHost, []string{mxHost}
	}
	return pki{root: root, inter: inter, leaf: inter.Issue(t, leaf)}
}

// served returns the chain a server presents: leaf and intermediate.
func (p pki) served() []*x509.Certificate { return certtest.Chain(p.leaf, p.inter) }

// record returns the TLSA record of usage, selector and matching type for
// cert, its data computed from the certificate.
func record(usage, selector, matchingType uint8, cert *x509.Certificate) dane.Record {
	content := cert.Raw
	if selector == dane.SelectorSPKI {
		content = cert.RawSubjectPublicKeyInfo
	}
	data := content
	switch matchingType {
	case dane.MatchingSHA256:
		sum := sha256.Sum256(content)
		data = sum[:]
	case dane.MatchingSHA512:
		sum := sha512.Sum512(content)
		data = sum[:]
	}
	return dane.Record{Usage: usage, Selector: selector, MatchingType: matchingType, Data: data}
}

// hours returns now shifted by n hours.
func hours(n int) time.Time { return time.Now().Add(time.Duration(n) * time.Hour) }
