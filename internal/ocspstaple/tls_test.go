package ocspstaple_test

import (
	"bytes"
	"crypto/tls"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"golang.org/x/crypto/ocsp"
)

// TestStapleOverTLS: the bytes a client reads from a stapling server on
// 127.0.0.1, with the chain it was served, are the staple and check as
// such; a server that staples nothing gives a result that is not stapled.
func TestStapleOverTLS(t *testing.T) {
	p := newPKI(t)
	now := clock()
	revoked := good(p.leaf.Cert.SerialNumber, now)
	revoked.Status, revoked.RevokedAt = ocsp.Revoked, now.Add(-time.Hour)
	staple := response{certIDIssuer: p.issuer, signer: p.issuer, template: revoked}.make(t)
	state := dialServer(t, certtest.TLSCertificate(p.leaf, p.issuer), staple)
	if !bytes.Equal(state.OCSPResponse, staple) {
		t.Fatalf("client read %d bytes of OCSP response, the server stapled %d others", len(state.OCSPResponse), len(staple))
	}
	r := ocspstaple.Check(state.OCSPResponse, state.PeerCertificates, now)
	if !r.Verified || r.Status != ocspstaple.Revoked || !r.RevokedAt.Equal(revoked.RevokedAt) {
		t.Errorf("got %+v, want verified revoked", r)
	}
	state = dialServer(t, certtest.TLSCertificate(p.leaf, p.issuer), nil)
	if r := ocspstaple.Check(state.OCSPResponse, state.PeerCertificates, now); r.Stapled || r.Err != nil {
		t.Errorf("without a staple: %+v", r)
	}
}

// dialServer connects to a TLS server on 127.0.0.1 presenting cert with
// staple and returns the client's connection state.
func dialServer(t *testing.T, cert tls.Certificate, staple []byte) tls.ConnectionState {
	t.Helper()
	cert.OCSPStaple = staple
	return certtest.Handshake(t, &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{InsecureSkipVerify: true})
}
