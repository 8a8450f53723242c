// Package certtest makes X.509 certificates for tests: roots, intermediates
// and leaves with ECDSA P-256 keys (or a key the caller gives), and the
// tls.Certificate a test server presents them with.
package certtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// Spec describes a certificate to make. Zero fields take the defaults
// their comments give.
type Spec struct {
	// CommonName is the subject's CN.
	CommonName string
	// DNSNames are the DNS subject alternative names.
	DNSNames []string
	// CA makes a certificate authority (basic constraints CA:TRUE, key usage
	// certSign).
	CA bool
	// NotBefore defaults to an hour ago.
	NotBefore time.Time
	// NotAfter defaults to a day from now.
	NotAfter time.Time
	// ExtKeyUsage defaults to serverAuth for a leaf and none for a CA.
	ExtKeyUsage []x509.ExtKeyUsage
	// Key is the certificate's key; nil makes a new ECDSA P-256 key.
	Key crypto.Signer
}

// Cert is a certificate with its private key.
type Cert struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key crypto.Signer
}

// SelfSigned makes a self-signed certificate, a root when spec.CA is set.
func SelfSigned(t testing.TB, spec Spec) *Cert {
	t.Helper()
	return issue(t, spec, nil)
}

// Issue makes a certificate signed by c.
func (c *Cert) Issue(t testing.TB, spec Spec) *Cert {
	t.Helper()
	return issue(t, spec, c)
}

// Chain returns the certificates of certs in order, as a TLS peer's chain.
func Chain(certs ...*Cert) []*x509.Certificate {
	out := make([]*x509.Certificate, len(certs))
	for i, c := range certs {
		out[i] = c.Cert
	}
	return out
}

// TLSCertificate returns the chain certs (leaf first) with the leaf's key,
// as a server presents it.
func TLSCertificate(certs ...*Cert) tls.Certificate {
	tc := tls.Certificate{PrivateKey: certs[0].Key, Leaf: certs[0].Cert}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Cert.Raw)
	}
	return tc
}

// NewKey returns a new ECDSA P-256 key.
func NewKey(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("certtest: key: %v", err)
	}
	return key
}

// issue makes the certificate spec describes, signed by parent or, when
// parent is nil, by its own key.
func issue(t testing.TB, spec Spec, parent *Cert) *Cert {
	t.Helper()
	key := spec.Key
	if key == nil {
		key = NewKey(t)
	}
	tmpl := template(t, spec)
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatalf("certtest: create %q: %v", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("certtest: parse %q: %v", spec.CommonName, err)
	}
	return &Cert{Cert: cert, Key: key}
}

// template returns the x509 template for spec, defaults filled in.
func template(t testing.TB, spec Spec) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("certtest: serial: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.CommonName},
		DNSNames:              spec.DNSNames,
		NotBefore:             orDefault(spec.NotBefore, now.Add(-time.Hour)),
		NotAfter:              orDefault(spec.NotAfter, now.Add(24*time.Hour)),
		BasicConstraintsValid: true,
		IsCA:                  spec.CA,
		ExtKeyUsage:           spec.ExtKeyUsage,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if spec.CA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else if spec.ExtKeyUsage == nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	return tmpl
}

// orDefault returns t, or def when t is zero.
func orDefault(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
