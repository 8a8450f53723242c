package probe

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

const testBudget = 5 * time.Second

func TestSessionOutcomes(t *testing.T) {
	ca := smtptest.NewCA(t)
	caFile := ca.WriteFile(t)
	good := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1", "mx.test"}})
	expired := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	wrongName := ca.Issue(t, smtptest.CertSpec{Names: []string{"other.test"}})
	selfSigned := (*smtptest.CA)(nil).Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
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
			server: smtptest.GoSMTPServer{}.Start,
			module: func(p int) string { return smtptest.PortModule(p, "none", "") },
			wantUp: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if !r.Extensions.Has("PIPELINING") || !r.Extensions.Has("8BITMIME") {
					t.Errorf("extensions = %v, want PIPELINING and 8BITMIME", r.Extensions.Registered())
				}
				if size, ok := r.Extensions.SizeLimit(); !ok || size != 10<<20 {
					t.Errorf("size limit = %d, %t; want %d", size, ok, 10<<20)
				}
			},
		},
		{
			name:   "opportunistic STARTTLS not offered is fine",
			server: smtptest.GoSMTPServer{}.Start,
			module: func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantUp: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.StartTLSAdvertised || r.Phases[PhaseStartTLS] != 0 {
					t.Errorf("advertised=%t starttls phase=%s, want false and 0", r.StartTLSAdvertised, r.Phases[PhaseStartTLS])
				}
			},
		},
		{
			name:     "required STARTTLS missing",
			server:   smtptest.GoSMTPServer{}.Start,
			module:   func(p int) string { return smtptest.PortModule(p, "starttls", ", expect: {require_tls: true}") },
			wantUp:   true,
			wantFail: "starttls/starttls_missing",
		},
		{
			name:   "STARTTLS with a chain to the configured CA",
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(good)}.Start,
			module: func(p int) string {
				return withCA + smtptest.PortModule(p, "starttls", ", expect: {require_tls: true}")
			},
			wantUp: true, wantTLS: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if !r.StartTLSAdvertised || !r.Cert.Verified || !r.Cert.HostnameMatch {
					t.Errorf("advertised=%t verified=%t (%v) match=%t (%v)", r.StartTLSAdvertised,
						r.Cert.Verified, r.Cert.VerifyErr, r.Cert.HostnameMatch, r.Cert.HostnameErr)
				}
				if r.TLSState.Version != tls.VersionTLS13 {
					t.Errorf("version = %s, want TLS 1.3", tlsinspect.VersionName(r.TLSState.Version))
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
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(good), Implicit: true}.Start,
			module: func(p int) string { return withCA + smtptest.PortModule(p, "implicit", "") },
			wantUp: true, wantTLS: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.Phases[PhaseStartTLS] != 0 || r.Phases[PhaseEHLOTLS] != 0 || r.Phases[PhaseTLS] <= 0 {
					t.Errorf("phases starttls=%s ehlo_tls=%s tls=%s", r.Phases[PhaseStartTLS], r.Phases[PhaseEHLOTLS], r.Phases[PhaseTLS])
				}
			},
		},
		{
			name:     "implicit TLS with a self-signed certificate",
			server:   smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(selfSigned), Implicit: true}.Start,
			module:   func(p int) string { return smtptest.PortModule(p, "implicit", "") },
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
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(selfSigned)}.Start,
			module: func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantUp: true, wantTLS: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.Cert == nil || r.Cert.Verified {
					t.Errorf("cert facts = %+v, want present and unverified", r.Cert)
				}
			},
		},
		{
			name:     "expired certificate",
			server:   smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(expired), Implicit: true}.Start,
			module:   func(p int) string { return withCA + smtptest.PortModule(p, "implicit", "") },
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
			server:   smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(wrongName), Implicit: true}.Start,
			module:   func(p int) string { return withCA + smtptest.PortModule(p, "implicit", "") },
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
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(wrongName), Implicit: true}.Start,
			module: func(p int) string {
				return "tls_config: {ca_file: " + caFile + ", server_name: other.test}\n" + smtptest.PortModule(p, "implicit", "")
			},
			wantUp: true, wantTLS: true, wantStatus: 250,
		},
		{
			name:     "refused",
			server:   smtptest.ClosedPort,
			module:   func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantFail: "connect/refused",
		},
		{
			name: "multi-line greeting sent slowly",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
					c.Say("220-mx.test first line")
					time.Sleep(300 * time.Millisecond)
					c.Say("220-mx.test second line")
					time.Sleep(300 * time.Millisecond)
					c.Say("220 mx.test ready")
					if !c.ExpectVerb("EHLO") {
						return
					}
					c.Say("250-mx.test", "250 SIZE 1000")
					c.ServeUntilQuit()
				})
			},
			module: func(p int) string { return smtptest.PortModule(p, "none", "") },
			wantUp: true, wantStatus: 250,
			check: func(t *testing.T, r *Result) {
				if r.Phases[PhaseBanner] < 600*time.Millisecond {
					t.Errorf("banner phase %s: the client did not wait for the whole greeting", r.Phases[PhaseBanner])
				}
			},
		},
		{
			name:   "HELO-only server",
			server: func(t testing.TB) int { return smtptest.HeloOnlyServer(t, "502 5.5.1 command not implemented") },
			module: func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantUp: true, wantStatus: 250,
		},
		{
			name: "421 greeting",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
					c.Say("421 4.3.2 too busy, try later")
					c.Hear()
				})
			},
			module:     func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantFail:   "banner/reply_code",
			wantStatus: 421,
		},
		{
			name: "STARTTLS refused with 454",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
					c.UpToStartTLS()
					c.Say("454 4.7.0 TLS not available")
					if got := c.Hear(); got != "QUIT" {
						t.Errorf("after 454 the client sent %q, want QUIT (no cleartext retry)", got)
					}
					c.Say("221 bye")
				})
			},
			module:     func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantUp:     true,
			wantFail:   "starttls/reply_code",
			wantStatus: 454,
		},
		{
			name: "bytes injected after the 220 to STARTTLS",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
					c.UpToStartTLS()
					c.Write([]byte("220 go ahead\r\n250 injected\r\n"))
					c.Hear()
				})
			},
			module:   func(p int) string { return smtptest.PortModule(p, "starttls", "") },
			wantUp:   true,
			wantFail: "starttls/protocol",
		},
		{
			name: "server that never greets",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { c.Hear() })
			},
			module:   func(p int) string { return smtptest.PortModule(p, "none", "") },
			wantFail: "banner/timeout",
		},
		{
			name: "TLS handshake answered with junk",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
					c.UpToStartTLS()
					c.Say("220 go ahead")
					buf := make([]byte, 512)
					c.Read(buf)
					c.Write([]byte("this is not TLS at all\r\n"))
					c.Hear()
				})
			},
			module:   func(p int) string { return smtptest.PortModule(p, "starttls", "") },
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
				cfg := smtptest.ServerTLS(good)
				cfg.MaxVersion = tls.VersionTLS12
				cfg.ClientAuth = tls.RequireAnyClientCert
				return smtptest.GoSMTPServer{TLS: cfg, Implicit: true}.Start(t)
			},
			module:   func(p int) string { return withCA + smtptest.PortModule(p, "implicit", "") },
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
			r := probePort(t, smtptest.ModuleFrom(t, tc.module(port)), port, budget)
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

func TestLegacyTLSIsReported(t *testing.T) {
	cert := smtptest.RSACert(t)
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
			port := smtptest.GoSMTPServer{TLS: tc.server}.Start(t)
			r := probePort(t, smtptest.ModuleFrom(t, smtptest.PortModule(port, "starttls", tc.expect)), port, testBudget)
			if got := failureOf(r); got != tc.wantFail {
				t.Fatalf("failure = %q, want %q: %v\n%s", got, tc.wantFail, r.Failure, r.Transcript)
			}
			if r.TLSState == nil {
				t.Fatalf("no TLS state\n%s", r.Transcript)
			}
			if got := tlsinspect.VersionName(r.TLSState.Version); got != tc.wantVersion {
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
	selfSigned := (*smtptest.CA)(nil).Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
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
			port := smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
				c.UpToStartTLS()
				c.Say("220 go ahead")
				tc := tls.Server(c.Conn, smtptest.ServerTLS(selfSigned))
				if tc.Handshake() != nil {
					return
				}
				s := smtptest.NewScriptConn(tc)
				s.ExpectVerb("EHLO")
				s.Say("250-mx.test", "250 AUTH PLAIN LOGIN")
				next := s.Hear()
				authSeen <- strings.HasPrefix(next, "AUTH")
				if !strings.HasPrefix(next, "AUTH") {
					s.Say("221 bye") // it was QUIT
					return
				}
				s.Say("235 2.7.0 ok")
				s.ServeUntilQuit()
			})
			m := smtptest.ModuleFrom(t, fmt.Sprintf("auth: {username: u, password_file: %s, insecure_auth: %t}\nallowed_targets: [127.0.0.1]\n", pwFile, tc.insecure)+
				smtptest.PortModule(port, "starttls", ""))
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
	cert := smtptest.RSACert(t) // self-signed: unverified
	port := smtptest.GoSMTPServer{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, Implicit: true}.Start(t)
	m := smtptest.ModuleFrom(t, smtptest.PortModule(port, "implicit", ", expect: {min_tls_version: TLS12}"))
	var logs strings.Builder
	p := &Prober{Resolver: staticResolver(t, nil), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	target, _ := ParseTarget(fmt.Sprintf("127.0.0.1:%d", port))
	r := p.Probe(t.Context(), m, p.Endpoints(t.Context(), target, m))[0]
	if got := failureOf(r); got != "tls/tls_version" {
		t.Fatalf("failure = %q, want tls/tls_version\n%s", got, r.Transcript)
	}
	if n := strings.Count(logs.String(), "SMTP probe failed"); n != 1 {
		t.Errorf("%d failure log lines, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(r.Transcript.String(), "later failure, not reported: phase tls, reason cert_unverified") {
		t.Errorf("the second failure is missing from the transcript:\n%s", r.Transcript)
	}
}
