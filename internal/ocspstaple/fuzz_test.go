package ocspstaple_test

import (
	"errors"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"golang.org/x/crypto/ocsp"
)

// FuzzCheck feeds arbitrary staples to Check: it must never panic, and a
// result is either verified or carries an *Error.
func FuzzCheck(f *testing.F) {
	p := newPKI(f)
	now := clock()
	f.Add([]byte{})
	f.Add(ocsp.TryLaterErrorResponse)
	for _, status := range []int{ocsp.Good, ocsp.Revoked, ocsp.Unknown} {
		tmpl := good(p.leaf.Cert.SerialNumber, now)
		tmpl.Status = status
		der, err := ocsp.CreateResponse(p.issuer.Cert, p.issuer.Cert, tmpl, p.issuer.Key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	chain := p.served()
	f.Fuzz(func(t *testing.T, staple []byte) {
		r := ocspstaple.Check(staple, chain, now)
		var e *ocspstaple.Error
		if r.Stapled && r.Verified == errors.As(r.Err, &e) {
			t.Fatalf("Verified %v with Err %v", r.Verified, r.Err)
		}
	})
}
