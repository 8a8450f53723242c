package handler

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/ocsp"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// secureLab is a CA, a STARTTLS server on 127.0.0.1 whose certificate it
// issued for mx.lab.test, and a DNS server for lab.test.
type secureLab struct {
	ca, leaf *certtest.Cert
	caFile   string
	port     int
	dns      *dnstest.Server
}

func newSecureLab(t testing.TB, staple func(leaf, ca *certtest.Cert) []byte) *secureLab {
	t.Helper()
	ca := certtest.SelfSigned(t, certtest.Spec{CommonName: "lab CA", CA: true})
	leaf := ca.Issue(t, certtest.Spec{CommonName: "mx.lab.test", DNSNames: []string{"mx.lab.test"}})
	cert := certtest.TLSCertificate(leaf, ca)
	if staple != nil {
		cert.OCSPStaple = staple(leaf, ca)
	}
	l := &secureLab{ca: ca, leaf: leaf, caFile: writePEM(t, ca.Cert)}
	l.port = smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert)}.Start(t)
	l.dns = dnstest.NewServer(t,
		"lab.test. 60 IN MX 10 mx.lab.test.",
		"mx.lab.test. 60 IN A 127.0.0.1",
		"_smtp._tls.lab.test. 60 IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@lab.test\"",
	)
	l.dns.SetDefault(dnstest.Behaviour{Secure: true})
	return l
}

func writePEM(t testing.TB, c *x509.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsa returns a TLSA record for the lab's port: usage, selector 1
// (SubjectPublicKeyInfo), matching 1 (SHA-256) of cert.
func (l *secureLab) tlsa(usage int, cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return fmt.Sprintf("_%d._tcp.mx.lab.test. 60 IN TLSA %d 1 1 %s", l.port, usage, hex.EncodeToString(sum[:]))
}

// fixture is a handler with one module over the lab, its body extra.
func (l *secureLab) fixture(t *testing.T, extra string) *handlerFixture {
	t.Helper()
	body := fmt.Sprintf("timeout: 3s\ntargets: mx\ndns: {dnssec: true}\ntls_config: {ca_file: %q}\nports: [{port: %d, tls: starttls}]\n%s",
		l.caFile, l.port, extra)
	return newHandlerFixture(t, modulesYAML(map[string]string{"lab": body}), fixtureOptions{resolver: l.dns.Client(t, true)})
}

func (l *secureLab) probe(t *testing.T, fx *handlerFixture) scrape {
	t.Helper()
	rec := fx.probe(t.Context(), probeQuery("lab.test", "lab", false))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return parseExposition(t, rec.Body.String())
}

func TestDANE(t *testing.T) {
	wrong := certtest.SelfSigned(t, certtest.Spec{CommonName: "someone else"})
	tests := []struct {
		name     string
		records  func(l *secureLab) []string
		behave   *dnstest.Behaviour // for the TLSA name; default secure
		extra    string
		state    string
		verified float64 // -1: no series
		failure  string  // reason, "" for success
	}{
		{"DANE-EE matches", func(l *secureLab) []string { return []string{l.tlsa(3, l.leaf.Cert)} }, nil, "", "usable", 1, ""},
		{"DANE-TA matches", func(l *secureLab) []string { return []string{l.tlsa(2, l.ca.Cert)} }, nil, "", "usable", 1, ""},
		{"no record matches", func(l *secureLab) []string { return []string{l.tlsa(3, wrong.Cert)} }, nil, "", "usable", 0, "dane_mismatch"},
		{"mismatch not expected", func(l *secureLab) []string { return []string{l.tlsa(3, wrong.Cert)} }, nil, "expect: {dane_match: false}\n", "usable", 0, ""},
		{"insecure TLSA", func(l *secureLab) []string { return []string{l.tlsa(3, wrong.Cert)} }, &dnstest.Behaviour{}, "", "insecure", -1, ""},
		{"no TLSA", func(*secureLab) []string { return nil }, nil, "", "none", -1, ""},
		{"no TLSA, DANE required", func(*secureLab) []string { return nil }, nil, "expect: {require_dane: true}\n", "none", -1, "dane_missing"},
		{"SERVFAIL is no denial", func(l *secureLab) []string { return []string{l.tlsa(3, l.leaf.Cert)} }, &dnstest.Behaviour{Secure: true, Rcode: dns.RcodeServerFailure}, "", "error", -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newSecureLab(t, nil)
			l.dns.Add(t, tt.records(l)...)
			if tt.behave != nil {
				l.dns.Set(fmt.Sprintf("_%d._tcp.mx.lab.test.", l.port), *tt.behave)
			}
			s := l.probe(t, l.fixture(t, "dane: true\n"+tt.extra))
			ep := []string{"host", "mx.lab.test", "port", strconv.Itoa(l.port)}
			s.want(t, 1, "probe_smtp_dane_info", append(ep, "state", tt.state)...)
			if tt.verified < 0 {
				s.absent(t, "probe_smtp_dane_verified")
			} else {
				s.want(t, tt.verified, "probe_smtp_dane_verified", ep...)
			}
			if tt.failure == "" {
				s.want(t, 1, "probe_smtp_success", ep...)
			} else {
				s.want(t, 1, "probe_smtp_failure_info", append(ep, "reason", tt.failure)...)
			}
			if tt.name == "DANE-EE matches" {
				s.want(t, 1, "probe_smtp_dane_match_info", append(ep, "usage", "3", "selector", "1", "matching_type", "1")...)
				s.want(t, 1, "probe_smtp_dane_records", ep...)
				s.want(t, 0, "probe_smtp_dane_rollover", ep...)
			}
		})
	}
}

// TestDANEWithoutTLS: usable TLSA on a port whose server offers no
// STARTTLS is a mismatch; DANE senders would not deliver there.
func TestDANEWithoutTLS(t *testing.T) {
	l := newSecureLab(t, nil)
	plain := smtptest.GoSMTPServer{}.Start(t)
	l.dns.Add(t, fmt.Sprintf("_%d._tcp.mx.lab.test. 60 IN TLSA 3 1 1 %s", plain, hex.EncodeToString(make([]byte, 32))))
	body := fmt.Sprintf("timeout: 3s\ntargets: mx\ndane: true\ndns: {dnssec: true}\nports: [{port: %d, tls: starttls}]\n", plain)
	fx := newHandlerFixture(t, modulesYAML(map[string]string{"lab": body}), fixtureOptions{resolver: l.dns.Client(t, true)})
	s := l.probe(t, fx)
	s.want(t, 1, "probe_smtp_failure_info", "host", "mx.lab.test", "reason", "dane_mismatch")
}

// ocspResponse makes an OCSP response for leaf signed by ca.
func ocspResponse(t *testing.T, leaf, ca *certtest.Cert, status int) []byte {
	t.Helper()
	der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
		Status: status, SerialNumber: new(big.Int).Set(leaf.Cert.SerialNumber),
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedAt: time.Now().Add(-time.Minute),
	}, ca.Key.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestOCSPAndKeyExchange(t *testing.T) {
	tests := []struct {
		name    string
		staple  int // -1: none
		extra   string
		status  float64 // -1: no series
		failure string
	}{
		{"good", ocsp.Good, "", 0, ""},
		{"revoked always fails", ocsp.Revoked, "", 1, "ocsp_revoked"},
		{"none stapled", -1, "", -1, ""},
		{"none stapled, required", -1, "expect: {require_ocsp_staple: true}\n", -1, "ocsp_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var staple func(leaf, ca *certtest.Cert) []byte
			if tt.staple >= 0 {
				staple = func(leaf, ca *certtest.Cert) []byte { return ocspResponse(t, leaf, ca, tt.staple) }
			}
			l := newSecureLab(t, staple)
			s := l.probe(t, l.fixture(t, tt.extra))
			ep := []string{"host", "mx.lab.test", "port", strconv.Itoa(l.port)}
			s.want(t, map[bool]float64{true: 1, false: 0}[tt.staple >= 0], "probe_smtp_ocsp_stapled", ep...)
			if tt.status < 0 {
				s.absent(t, "probe_smtp_ocsp_status")
			} else {
				s.want(t, tt.status, "probe_smtp_ocsp_status", ep...)
				if n := len(s.series("probe_smtp_ocsp_next_update_timestamp_seconds", ep...)); n != 1 {
					t.Errorf("%d next-update series, want 1", n)
				}
			}
			if tt.failure == "" {
				s.want(t, 1, "probe_smtp_success", ep...)
			} else {
				s.want(t, 1, "probe_smtp_failure_info", append(ep, "reason", tt.failure)...)
			}
			s.want(t, 1, "probe_smtp_tls_key_exchange_info", append(ep, "group", "X25519MLKEM768")...)
		})
	}
}

// policyServer serves an MTA-STS policy over HTTPS on 127.0.0.1 with a
// certificate for mta-sts.lab.test issued by ca; it returns the port.
func policyServer(t testing.TB, ca *certtest.Cert, policy string) int {
	t.Helper()
	cert := certtest.TLSCertificate(ca.Issue(t, certtest.Spec{CommonName: "mta-sts.lab.test", DNSNames: []string{"mta-sts.lab.test"}}), ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, policy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

func TestMTASTSAndTLSRPT(t *testing.T) {
	tests := []struct {
		name, policy, extra string
		record              bool
		result, mode        string
		mxMatch, valid      float64 // -1: no series
		failure             string
	}{
		{"enforced, MX listed", "version: STSv1\nmode: enforce\nmx: mx.lab.test\nmax_age: 86400\n", "", true, "ok", "enforce", 1, 1, ""},
		{"enforced, pattern", "version: STSv1\nmode: enforce\nmx: *.lab.test\nmax_age: 86400\n", "", true, "ok", "enforce", 1, 1, ""},
		{"enforced, MX not listed", "version: STSv1\nmode: enforce\nmx: other.lab.test\nmax_age: 86400\n", "", true, "ok", "enforce", 0, 0, "mta_sts_mismatch"},
		{"testing, MX not listed", "version: STSv1\nmode: testing\nmx: other.lab.test\nmax_age: 86400\n", "", true, "ok", "testing", 0, 0, ""},
		{"no record, required", "", "expect: {require_mta_sts: true}\n", false, "absent", "", -1, -1, "mta_sts_missing"},
		{"bad policy", "version: STSv2\n", "", true, "policy_invalid", "", -1, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newSecureLab(t, nil)
			if tt.record {
				l.dns.Add(t, "_mta-sts.lab.test. 60 IN TXT \"v=STSv1; id=20261202\"", "mta-sts.lab.test. 60 IN A 127.0.0.1")
			}
			fx := l.fixture(t, "mta_sts: true\ntlsrpt: true\n"+tt.extra)
			fx.prober.MTASTSPort = policyServer(t, l.ca, tt.policy)
			s := l.probe(t, fx)
			ep := []string{"host", "mx.lab.test", "port", strconv.Itoa(l.port)}
			s.want(t, 1, "probe_smtp_mta_sts_info", "result", tt.result)
			s.want(t, 1, "probe_smtp_tlsrpt_info", "result", "ok")
			if tt.mode != "" {
				s.want(t, 1, "probe_smtp_mta_sts_mode_info", "mode", tt.mode)
				s.want(t, 86400, "probe_smtp_mta_sts_max_age_seconds")
				if n := len(s.series("probe_smtp_mta_sts_policy_cert_expiry_timestamp_seconds")); n != 1 {
					t.Errorf("%d policy certificate series, want 1", n)
				}
			}
			if tt.mxMatch < 0 {
				s.absent(t, "probe_smtp_mta_sts_mx_match")
				s.absent(t, "probe_smtp_mta_sts_valid")
			} else {
				s.want(t, tt.mxMatch, "probe_smtp_mta_sts_mx_match", "host", "mx.lab.test")
				s.want(t, tt.valid, "probe_smtp_mta_sts_valid", ep...)
			}
			if tt.failure == "" {
				s.want(t, 1, "probe_smtp_success", ep...)
			} else {
				s.want(t, 1, "probe_smtp_failure_info", append(ep, "reason", tt.failure)...)
				s.want(t, 0, "probe_smtp_status_code", ep...) // not caused by a reply
			}
		})
	}
}

// TestSlowTLSAHoldsNoSession: a TLSA lookup that never answers costs the
// DANE verdict, never the SMTP session: QUIT is said as soon as the
// dialogue is over, and the TLSA state is error.
func TestSlowTLSAHoldsNoSession(t *testing.T) {
	l := newSecureLab(t, nil)
	cert := certtest.TLSCertificate(l.leaf, l.ca)
	var quitAt atomic.Int64
	start := time.Now()
	port := smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
		c.UpToStartTLS()
		c.Say("220 go ahead")
		tc := tls.Server(c.Conn, smtptest.ServerTLS(cert))
		if tc.Handshake() != nil {
			return
		}
		c = smtptest.NewScriptConn(tc)
		if c.ExpectVerb("EHLO") {
			c.Say("250 mx.lab.test")
		}
		if c.ExpectVerb("QUIT") {
			quitAt.Store(int64(time.Since(start)))
			c.Say("221 bye")
		}
	})
	l.dns.Set(fmt.Sprintf("_%d._tcp.mx.lab.test.", port), dnstest.Behaviour{Drop: true})
	body := fmt.Sprintf("timeout: 2s\ntargets: mx\ndane: true\ndns: {dnssec: true}\nports: [{port: %d, tls: starttls}]\n", port)
	fx := newHandlerFixture(t, modulesYAML(map[string]string{"lab": body}), fixtureOptions{resolver: l.dns.Client(t, true)})
	s := l.probe(t, fx)
	if at := time.Duration(quitAt.Load()); at == 0 || at > time.Second {
		t.Errorf("QUIT heard after %s, want well before the 2 s budget ends", at)
	}
	s.want(t, 1, "probe_smtp_dane_info", "host", "mx.lab.test", "state", "error")
	s.absent(t, "probe_smtp_failure_info")
}
