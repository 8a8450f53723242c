package collector

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testBudget = 5 * time.Second

// The module line for one port of a test server.
func portModule(port int, mode string, extra string) string {
	return fmt.Sprintf("ports:\n  - {port: %d, tls: %s%s}\n", port, mode, extra)
}

func TestSessionOutcomes(t *testing.T) {
	ca := newTestCA(t)
	caFile := ca.writeFile(t)
	good := ca.issue(t, certSpec{names: []string{"127.0.0.1", "mx.test"}})
	expired := ca.issue(t, certSpec{names: []string{"127.0.0.1"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	wrongName := ca.issue(t, certSpec{names: []string{"other.test"}})
	selfSigned := (*testCA)(nil).issue(t, certSpec{names: []string{"127.0.0.1"}})
	withCA := "tls_config: {ca_file: " + caFile + "}\n"

	tests := []struct {
		name       string
		server     func(t testing.TB) int
		module     func(port int) string
		wantUp     bool
		wantFail   string // phase/reason, "" for success
		wantTLS    bool
		wantStatus int
		check      func(t *testing.T, r *Result)
	}{
		{
			name:   "plain server on a none port",
			server: goSMTPServer{}.start,
			module: func(p int) string { return portModule(p, "none", "") },
			wantUp: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if !r.Extensions.Has("PIPELINING") || !r.Extensions.Has("8BITMIME") {
					t.Errorf("extensions = %v, want PIPELINING and 8BITMIME", r.Extensions.keywords)
				}
				if size, ok := r.Extensions.SizeLimit(); !ok || size != 10<<20 {
					t.Errorf("size limit = %d, %t; want %d", size, ok, 10<<20)
				}
			},
		},
		{
			name:   "opportunistic STARTTLS not offered is fine",
			server: goSMTPServer{}.start,
			module: func(p int) string { return portModule(p, "starttls", "") },
			wantUp: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.StartTLSAdvertised || r.Phases[PhaseStartTLS] != 0 {
					t.Errorf("advertised=%t starttls phase=%s, want false and 0", r.StartTLSAdvertised, r.Phases[PhaseStartTLS])
				}
			},
		},
		{
			name:     "required STARTTLS missing",
			server:   goSMTPServer{}.start,
			module:   func(p int) string { return portModule(p, "starttls", ", expect: {require_tls: true}") },
			wantUp:   true,
			wantFail: "starttls/starttls_missing",
		},
		{
			name:   "STARTTLS with a chain to the configured CA",
			server: goSMTPServer{tls: serverTLS(good)}.start,
			module: func(p int) string {
				return withCA + portModule(p, "starttls", ", expect: {require_tls: true}")
			},
			wantUp: true, wantTLS: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if !r.StartTLSAdvertised || !r.Cert.Verified || !r.Cert.HostnameMatch {
					t.Errorf("advertised=%t verified=%t (%v) match=%t (%v)", r.StartTLSAdvertised,
						r.Cert.Verified, r.Cert.VerifyErr, r.Cert.HostnameMatch, r.Cert.HostnameErr)
				}
				if r.TLSState.Version != tls.VersionTLS13 {
					t.Errorf("version = %s, want TLS 1.3", tlsVersionName(r.TLSState.Version))
				}
				if !r.HandshakeDone || r.Handshake <= 0 {
					t.Errorf("handshake = %s (done %t), want a positive duration", r.Handshake, r.HandshakeDone)
				}
				for _, p := range []Phase{PhaseConnect, PhaseBanner, PhaseEHLO, PhaseStartTLS, PhaseTLS, PhaseEHLOTLS} {
					if r.Phases[p] <= 0 {
						t.Errorf("phase %s = %s, want > 0", p, r.Phases[p])
					}
				}
				if r.Extensions.Has("STARTTLS") {
					t.Error("final EHLO (under TLS) still lists STARTTLS")
				}
			},
		},
		{
			name:   "implicit TLS with a good certificate",
			server: goSMTPServer{tls: serverTLS(good), implicit: true}.start,
			module: func(p int) string { return withCA + portModule(p, "implicit", "") },
			wantUp: true, wantTLS: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.Phases[PhaseStartTLS] != 0 || r.Phases[PhaseEHLOTLS] != 0 || r.Phases[PhaseTLS] <= 0 {
					t.Errorf("phases starttls=%s ehlo_tls=%s tls=%s", r.Phases[PhaseStartTLS], r.Phases[PhaseEHLOTLS], r.Phases[PhaseTLS])
				}
			},
		},
		{
			name:     "implicit TLS with a self-signed certificate",
			server:   goSMTPServer{tls: serverTLS(selfSigned), implicit: true}.start,
			module:   func(p int) string { return portModule(p, "implicit", "") },
			wantUp:   true,
			wantTLS:  true,
			wantFail: "tls/cert_unverified",
			check: func(t *testing.T, r *Result) {
				if r.Cert == nil || r.Cert.Verified || !r.Cert.HostnameMatch {
					t.Errorf("cert facts = %+v, want unverified but matching", r.Cert)
				}
			},
		},
		{
			name:   "opportunistic STARTTLS with a self-signed certificate succeeds",
			server: goSMTPServer{tls: serverTLS(selfSigned)}.start,
			module: func(p int) string { return portModule(p, "starttls", "") },
			wantUp: true, wantTLS: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.Cert == nil || r.Cert.Verified {
					t.Errorf("cert facts = %+v, want present and unverified", r.Cert)
				}
			},
		},
		{
			name:     "expired certificate",
			server:   goSMTPServer{tls: serverTLS(expired), implicit: true}.start,
			module:   func(p int) string { return withCA + portModule(p, "implicit", "") },
			wantUp:   true,
			wantTLS:  true,
			wantFail: "tls/cert_expired",
			check: func(t *testing.T, r *Result) {
				if !r.Cert.Leaf().NotAfter.Before(time.Now()) {
					t.Error("leaf should be expired")
				}
			},
		},
		{
			name:     "wrong host name",
			server:   goSMTPServer{tls: serverTLS(wrongName), implicit: true}.start,
			module:   func(p int) string { return withCA + portModule(p, "implicit", "") },
			wantUp:   true,
			wantTLS:  true,
			wantFail: "tls/cert_hostname",
			check: func(t *testing.T, r *Result) {
				if !r.Cert.Verified || r.Cert.HostnameMatch {
					t.Errorf("verified=%t match=%t, want true false", r.Cert.Verified, r.Cert.HostnameMatch)
				}
			},
		},
		{
			name:   "server_name overrides the checked name",
			server: goSMTPServer{tls: serverTLS(wrongName), implicit: true}.start,
			module: func(p int) string {
				return "tls_config: {ca_file: " + caFile + ", server_name: other.test}\n" + portModule(p, "implicit", "")
			},
			wantUp: true, wantTLS: true, wantStatus: 250,
		},
		{
			name:     "refused",
			server:   closedPort,
			module:   func(p int) string { return portModule(p, "starttls", "") },
			wantFail: "connect/refused",
		},
		{
			name: "multi-line greeting sent slowly",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) {
					c.say("220-mx.test first line")
					time.Sleep(300 * time.Millisecond)
					c.say("220-mx.test second line")
					time.Sleep(300 * time.Millisecond)
					c.say("220 mx.test ready")
					if !c.expectVerb("EHLO") {
						return
					}
					c.say("250-mx.test", "250 SIZE 1000")
					c.serveUntilQuit()
				})
			},
			module: func(p int) string { return portModule(p, "none", "") },
			wantUp: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.Phases[PhaseBanner] < 600*time.Millisecond {
					t.Errorf("banner phase %s: the client did not wait for the whole greeting", r.Phases[PhaseBanner])
				}
			},
		},
		{
			name:   "HELO-only server",
			server: func(t testing.TB) int { return heloOnlyServer(t, "502 5.5.1 command not implemented") },
			module: func(p int) string { return portModule(p, "starttls", "") },
			wantUp: true, wantStatus: 250,
		},
		{
			name: "421 greeting",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) {
					c.say("421 4.3.2 too busy, try later")
					c.hear()
				})
			},
			module:     func(p int) string { return portModule(p, "starttls", "") },
			wantFail:   "banner/reply_code",
			wantStatus: 421,
		},
		{
			name: "STARTTLS refused with 454",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) {
					c.upToStartTLS()
					c.say("454 4.7.0 TLS not available")
					if got := c.hear(); got != "QUIT" {
						t.Errorf("after 454 the client sent %q, want QUIT (no cleartext retry)", got)
					}
					c.say("221 bye")
				})
			},
			module:     func(p int) string { return portModule(p, "starttls", "") },
			wantUp:     true,
			wantFail:   "starttls/reply_code",
			wantStatus: 454,
		},
		{
			name: "bytes injected after the 220 to STARTTLS",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) {
					c.upToStartTLS()
					c.Write([]byte("220 go ahead\r\n250 injected\r\n"))
					c.hear()
				})
			},
			module:   func(p int) string { return portModule(p, "starttls", "") },
			wantUp:   true,
			wantFail: "starttls/protocol",
		},
		{
			name: "server that never greets",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) { c.hear() })
			},
			module:   func(p int) string { return portModule(p, "none", "") },
			wantFail: "banner/timeout",
		},
		{
			name: "TLS handshake answered with junk",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) {
					c.upToStartTLS()
					c.say("220 go ahead")
					buf := make([]byte, 512)
					c.Read(buf)
					c.Write([]byte("this is not TLS at all\r\n"))
					c.hear()
				})
			},
			module:   func(p int) string { return portModule(p, "starttls", "") },
			wantUp:   true,
			wantFail: "tls/tls_handshake",
			check: func(t *testing.T, r *Result) {
				if r.Cert != nil || r.TLSState != nil {
					t.Error("no certificate arrived, yet certificate facts are reported")
				}
			},
		},
		{
			name: "certificate facts kept when the handshake fails after the Certificate message",
			server: func(t testing.TB) int {
				cfg := serverTLS(good)
				cfg.MaxVersion = tls.VersionTLS12
				cfg.ClientAuth = tls.RequireAnyClientCert
				return goSMTPServer{tls: cfg, implicit: true}.start(t)
			},
			module:   func(p int) string { return withCA + portModule(p, "implicit", "") },
			wantFail: "tls/tls_handshake",
			check: func(t *testing.T, r *Result) {
				if r.Cert == nil || r.Cert.Leaf().SerialNumber.Int64() != 4242 || !r.Cert.Verified {
					t.Errorf("cert facts = %+v, want the served, verified leaf", r.Cert)
				}
				if r.TLSState != nil {
					t.Error("TLS state reported for a failed handshake")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := tc.server(t)
			budget := testBudget
			if strings.HasSuffix(tc.wantFail, "timeout") {
				budget = 500 * time.Millisecond
			}
			start := time.Now()
			r := probePort(t, moduleFrom(t, tc.module(port)), port, budget)
			if took := time.Since(start); took > budget+250*time.Millisecond {
				t.Errorf("session took %s, budget %s", took, budget)
			}
			if got := failureOf(r); got != tc.wantFail {
				t.Errorf("failure = %q, want %q (err: %v)\n%s", got, tc.wantFail, r.Failure, r.Transcript)
			}
			if r.Up != tc.wantUp || r.TLS != tc.wantTLS || r.StatusCode != tc.wantStatus {
				t.Errorf("up=%t tls=%t status=%d; want %t %t %d\n%s", r.Up, r.TLS, r.StatusCode,
					tc.wantUp, tc.wantTLS, tc.wantStatus, r.Transcript)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// closedPort returns a port on which nothing listens.
func closedPort(t testing.TB) int {
	ln := listen(t)
	port := portOf(ln.Addr())
	ln.Close()
	return port
}

// rsaCert makes a self-signed RSA certificate, which RSA key exchange needs.
func rsaCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestLegacyTLSIsReported(t *testing.T) {
	cert := rsaCert(t)
	tests := []struct {
		name        string
		server      *tls.Config
		expect      string
		wantVersion string
		wantCipher  string
		wantFail    string
	}{
		{
			name:        "TLS 1.0 only, reported, not enforced",
			server:      &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
			wantVersion: "TLS 1.0",
		},
		{
			name:        "TLS 1.0 only, below min_tls_version",
			server:      &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
			expect:      ", expect: {min_tls_version: TLS12}",
			wantVersion: "TLS 1.0",
			wantFail:    "tls/tls_version",
		},
		{
			name: "RSA key exchange only",
			server: &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			wantVersion: "TLS 1.2",
			wantCipher:  "TLS_RSA_WITH_AES_128_GCM_SHA256",
		},
		{
			name: "3DES only",
			server: &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}},
			wantVersion: "TLS 1.2",
			wantCipher:  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := goSMTPServer{tls: tc.server}.start(t)
			r := probePort(t, moduleFrom(t, portModule(port, "starttls", tc.expect)), port, testBudget)
			if got := failureOf(r); got != tc.wantFail {
				t.Fatalf("failure = %q, want %q: %v\n%s", got, tc.wantFail, r.Failure, r.Transcript)
			}
			if r.TLSState == nil {
				t.Fatalf("no TLS state\n%s", r.Transcript)
			}
			if got := tlsVersionName(r.TLSState.Version); got != tc.wantVersion {
				t.Errorf("version = %s, want %s", got, tc.wantVersion)
			}
			if got := tls.CipherSuiteName(r.TLSState.CipherSuite); tc.wantCipher != "" && got != tc.wantCipher {
				t.Errorf("cipher = %s, want %s", got, tc.wantCipher)
			}
		})
	}
}

// TestAuthNeedsAVerifiedCertificate: credentials go only to a server whose
// certificate verified for the host, unless insecure_auth says otherwise.
func TestAuthNeedsAVerifiedCertificate(t *testing.T) {
	selfSigned := (*testCA)(nil).issue(t, certSpec{names: []string{"127.0.0.1"}})
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		insecure     bool
		wantFail     string
		wantAuthSeen bool
	}{
		{"unverified certificate: nothing sent", false, "auth/auth_insecure", false},
		{"insecure_auth: sent anyway", true, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			authSeen := make(chan bool, 1)
			port := scripted(t, func(c *scriptConn) {
				c.upToStartTLS()
				c.say("220 go ahead")
				tc := tls.Server(c.Conn, serverTLS(selfSigned))
				if tc.Handshake() != nil {
					return
				}
				s := &scriptConn{Conn: tc, r: newReader(tc)}
				s.expectVerb("EHLO")
				s.say("250-mx.test", "250 AUTH PLAIN LOGIN")
				next := s.hear()
				authSeen <- strings.HasPrefix(next, "AUTH")
				if !strings.HasPrefix(next, "AUTH") {
					s.say("221 bye") // it was QUIT
					return
				}
				s.say("235 2.7.0 ok")
				s.serveUntilQuit()
			})
			m := moduleFrom(t, fmt.Sprintf("auth: {username: u, password_file: %s, insecure_auth: %t}\nallowed_targets: [127.0.0.1]\n", pwFile, tc.insecure)+
				portModule(port, "starttls", ""))
			r := probePort(t, m, port, testBudget)
			if got := failureOf(r); got != tc.wantFail {
				t.Errorf("failure = %q, want %q\n%s", got, tc.wantFail, r.Transcript)
			}
			if got := <-authSeen; got != tc.wantAuthSeen {
				t.Errorf("server saw AUTH = %t, want %t", got, tc.wantAuthSeen)
			}
		})
	}
}

// TestFirstFailureIsLoggedOnce: a session that fails two checks reports and
// logs the first; the second is only in the transcript.
func TestFirstFailureIsLoggedOnce(t *testing.T) {
	cert := rsaCert(t) // self-signed: unverified
	port := goSMTPServer{tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, implicit: true}.start(t)
	m := moduleFrom(t, portModule(port, "implicit", ", expect: {min_tls_version: TLS12}"))
	var logs strings.Builder
	p := &Prober{Resolver: staticResolver{}, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	target, _ := ParseTarget(fmt.Sprintf("127.0.0.1:%d", port))
	r := p.Probe(t.Context(), m, p.Endpoints(t.Context(), target, m))[0]
	if got := failureOf(r); got != "tls/tls_version" {
		t.Fatalf("failure = %q, want tls/tls_version\n%s", got, r.Transcript)
	}
	if n := strings.Count(logs.String(), "SMTP probe failed"); n != 1 {
		t.Errorf("%d failure log lines, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(r.Transcript.String(), "(cert_unverified)") {
		t.Errorf("the second failure is missing from the transcript:\n%s", r.Transcript)
	}
}
