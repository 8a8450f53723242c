package kex_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/kex"
)

// handshake runs a TLS handshake on 127.0.0.1 between a server presenting
// cert and a client offering every suite crypto/tls implements, and returns
// the client's connection state.
func handshake(t *testing.T, cert tls.Certificate, server, client *tls.Config) tls.ConnectionState {
	t.Helper()
	server.Certificates = []tls.Certificate{cert}
	client.InsecureSkipVerify = true
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		client.CipherSuites = append(client.CipherSuites, s.ID)
	}
	return certtest.Handshake(t, server, client)
}

func TestGroup(t *testing.T) {
	ecdsa := certtest.TLSCertificate(certtest.SelfSigned(t, certtest.Spec{CommonName: "mx.example.test"}))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaCert := certtest.TLSCertificate(certtest.SelfSigned(t, certtest.Spec{CommonName: "mx.example.test", Key: rsaKey}))
	for _, tc := range []struct {
		name           string
		cert           tls.Certificate
		server, client *tls.Config
		want           string
		version        uint16
	}{
		{"TLS 1.3 default", ecdsa, &tls.Config{}, &tls.Config{}, "X25519MLKEM768", tls.VersionTLS13},
		{"TLS 1.3 X25519", ecdsa, &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519}}, &tls.Config{}, "X25519", tls.VersionTLS13},
		{"TLS 1.3 P-256", ecdsa, &tls.Config{}, &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}}, "P-256", tls.VersionTLS13},
		{"TLS 1.3 P-384", ecdsa, &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP384}}, &tls.Config{}, "P-384", tls.VersionTLS13},
		{"TLS 1.2 ECDHE P-256", ecdsa, &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP256}}, &tls.Config{}, "P-256", tls.VersionTLS12},
		{"TLS 1.2 RSA key transport", rsaCert, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}, &tls.Config{}, kex.RSA, tls.VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := handshake(t, tc.cert, tc.server, tc.client)
			if state.Version != tc.version {
				t.Fatalf("negotiated %s, want %s", tls.VersionName(state.Version), tls.VersionName(tc.version))
			}
			if got := kex.Group(state); got != tc.want {
				t.Errorf("Group = %q (suite %s), want %q", got, tls.CipherSuiteName(state.CipherSuite), tc.want)
			}
		})
	}
}

func TestGroupBeforeHandshake(t *testing.T) {
	if got := kex.Group(tls.ConnectionState{CipherSuite: tls.TLS_RSA_WITH_AES_128_GCM_SHA256}); got != "" {
		t.Errorf("Group of an incomplete handshake = %q, want none", got)
	}
}

func TestGroupName(t *testing.T) {
	for id, want := range map[tls.CurveID]string{
		tls.CurveP256: "P-256", tls.CurveP384: "P-384", tls.CurveP521: "P-521",
		tls.X25519: "X25519", tls.X25519MLKEM768: "X25519MLKEM768", tls.SecP256r1MLKEM768: "SecP256r1MLKEM768",
	} {
		if got := kex.GroupName(id); got != want {
			t.Errorf("GroupName(%d) = %q, want %q", id, got, want)
		}
	}
}
