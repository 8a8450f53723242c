package mtasts_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

const (
	testDomain  = "mail.test"
	policyHost  = "mta-sts.mail.test"
	recordTXT   = `_mta-sts.mail.test. 300 IN TXT "v=STSv1; id=20260101T0000"`
	policyHostA = "mta-sts.mail.test. 300 IN A 127.0.0.1"
	goodPolicy  = "version: STSv1\r\nmode: enforce\r\nmx: mx1.mail.test\r\nmx: *.mx.mail.test\r\nmax_age: 86400\r\n"
)

// checkCase is one policy host set-up and the result Check must give.
type checkCase struct {
	name string
	// zone replaces the record and the policy host's address when not nil.
	zone []string
	// cert is the policy host's certificate; nil: a good one from the test CA.
	cert func(t *testing.T, ca testCA) tls.Certificate
	// handler serves the policy; nil: goodPolicy as text/plain.
	handler http.Handler
	want    string
	// dialled: the policy host saw a connection (and sent its certificate).
	dialled bool
	// errIs, when set, must accept the report's error.
	errIs func(error) bool
}

// run sets up DNS and the policy host for tc and runs Check.
func (tc checkCase) run(t *testing.T) (mtasts.Report, *policyServer, tls.Certificate) {
	t.Helper()
	ca := newTestCA(t)
	cert := ca.leaf(t, policyHost, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	if tc.cert != nil {
		cert = tc.cert(t, ca)
	}
	handler := tc.handler
	if handler == nil {
		handler = servePolicy(http.StatusOK, "text/plain", goodPolicy)
	}
	ps := startPolicyServer(t, cert, nil, handler)
	zone := tc.zone
	if zone == nil {
		zone = []string{recordTXT, policyHostA}
	}
	dnsSrv := dnstest.NewServer(t, zone...)
	opts := mtasts.Options{Resolver: newResolver(t, dnsSrv), RootCAs: ca.pool, Port: ps.port(t)}
	return mtasts.Check(testContext(t, 3*time.Second), testDomain, opts), ps, cert
}

func errAs[E error](err error) bool {
	var target E
	return errors.As(err, &target)
}

func TestCheckRecord(t *testing.T) {
	runCheckCases(t, []checkCase{
		{name: "ok", want: mtasts.ResultOK, dialled: true},
		{name: "ok with charset and LF", want: mtasts.ResultOK, dialled: true,
			handler: servePolicy(200, "text/plain; charset=utf-8", strings.ReplaceAll(goodPolicy, "\r\n", "\n"))},
		{name: "no TXT record, NXDOMAIN", zone: []string{policyHostA}, want: mtasts.ResultAbsent,
			errIs: func(err error) bool { return errAs[*dnsclient.Error](err) }},
		{name: "NODATA", zone: []string{"_mta-sts.mail.test. 300 IN A 192.0.2.1", policyHostA}, want: mtasts.ResultAbsent},
		{name: "only other TXT records", want: mtasts.ResultAbsent,
			zone: []string{`_mta-sts.mail.test. 300 IN TXT "v=spf1 -all"`, `_mta-sts.mail.test. 300 IN TXT "v=STSv10; id=1"`, policyHostA}},
		{name: "two STSv1 records", want: mtasts.ResultRecordInvalid,
			zone: []string{recordTXT, `_mta-sts.mail.test. 300 IN TXT "v=STSv1; id=other"`, policyHostA}},
		{name: "bad id", want: mtasts.ResultRecordInvalid, errIs: func(err error) bool { return errAs[*mtasts.SyntaxError](err) },
			zone: []string{`_mta-sts.mail.test. 300 IN TXT "v=STSv1; id=2026-01-01"`, policyHostA}},
		{name: "no id", want: mtasts.ResultRecordInvalid, zone: []string{`_mta-sts.mail.test. 300 IN TXT "v=STSv1;"`, policyHostA}},
		{name: "STSv1 record beside others", want: mtasts.ResultOK, dialled: true,
			zone: []string{`_mta-sts.mail.test. 300 IN TXT "v=spf1 -all"`, recordTXT, policyHostA}},
		{name: "policy host does not resolve", zone: []string{recordTXT}, want: mtasts.ResultFetchFailed,
			errIs: func(err error) bool { return errAs[*dnsclient.Error](err) }},
	})
}

func TestCheckAnswer(t *testing.T) {
	runCheckCases(t, []checkCase{
		{name: "redirect", want: mtasts.ResultRedirect, dialled: true,
			handler: http.RedirectHandler("https://elsewhere.test/.well-known/mta-sts.txt", http.StatusMovedPermanently)},
		{name: "404", handler: http.NotFoundHandler(), want: mtasts.ResultHTTPStatus, dialled: true},
		{name: "500", handler: servePolicy(500, "text/plain", goodPolicy), want: mtasts.ResultHTTPStatus, dialled: true},
		{name: "text/html", handler: servePolicy(200, "text/html", goodPolicy), want: mtasts.ResultContentType, dialled: true},
		{name: "no content type", handler: servePolicy(200, "", goodPolicy), want: mtasts.ResultContentType, dialled: true},
		{name: "text/plain as a prefix only", handler: servePolicy(200, "text/plainx", goodPolicy), want: mtasts.ResultContentType, dialled: true},
		{name: "64 KiB + 1", want: mtasts.ResultTooLarge, dialled: true,
			handler: servePolicy(200, "text/plain", paddedPolicy(mtasts.MaxPolicySize+1))},
		{name: "exactly 64 KiB", want: mtasts.ResultOK, dialled: true,
			handler: servePolicy(200, "text/plain", paddedPolicy(mtasts.MaxPolicySize))},
		{name: "chunked and endless", handler: endlessPolicy(), want: mtasts.ResultTooLarge, dialled: true},
		{name: "headers past the response cap", handler: hugeHeader(), want: mtasts.ResultFetchFailed, dialled: true},
		{name: "policy syntax", handler: servePolicy(200, "text/plain", "version: STSv1\nmode: enforce\nmax_age: 86400\n"),
			want: mtasts.ResultPolicyInvalid, dialled: true, errIs: func(err error) bool { return errAs[*mtasts.SyntaxError](err) }},
	})
}

func TestCheckCertificate(t *testing.T) {
	hour := time.Hour
	runCheckCases(t, []checkCase{
		{name: "wrong certificate name", want: mtasts.ResultCertificate, dialled: true,
			cert: func(t *testing.T, ca testCA) tls.Certificate {
				return ca.leaf(t, "www.mail.test", time.Now().Add(-hour), time.Now().Add(hour))
			},
			errIs: func(err error) bool { return errAs[x509.HostnameError](err) }},
		{name: "expired certificate", want: mtasts.ResultCertificate, dialled: true,
			cert: func(t *testing.T, ca testCA) tls.Certificate {
				return ca.leaf(t, policyHost, time.Now().Add(-3*hour), time.Now().Add(-hour))
			},
			errIs: func(err error) bool {
				var invalid x509.CertificateInvalidError
				return errors.As(err, &invalid) && invalid.Reason == x509.Expired
			}},
		{name: "self-signed certificate", want: mtasts.ResultCertificate, dialled: true,
			cert:  func(t *testing.T, _ testCA) tls.Certificate { return selfSigned(t, policyHost) },
			errIs: func(err error) bool { return errAs[x509.UnknownAuthorityError](err) }},
	})
}

// runCheckCases runs each case and checks the report and what the policy
// host saw.
func runCheckCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ps, cert := tc.run(t)
			if r.Result != tc.want {
				t.Fatalf("Result = %q (err %v), want %q", r.Result, r.Err, tc.want)
			}
			if (r.Err == nil) != (tc.want == mtasts.ResultOK) {
				t.Errorf("Err = %v with result %q", r.Err, r.Result)
			}
			if (r.Policy != nil) != (tc.want == mtasts.ResultOK) {
				t.Errorf("Policy = %+v with result %q", r.Policy, r.Result)
			}
			if tc.errIs != nil && !tc.errIs(r.Err) {
				t.Errorf("Err = %v (%T), not the kind expected", r.Err, r.Err)
			}
			wantConns := map[bool]int64{false: 0, true: 1}[tc.dialled]
			if got := ps.conns.Load(); got != wantConns {
				t.Errorf("policy host saw %d connections, want %d", got, wantConns)
			}
			wantExpiry := time.Time{}
			if tc.dialled {
				wantExpiry = cert.Leaf.NotAfter
			}
			if !r.PolicyCertExpiry.Equal(wantExpiry) {
				t.Errorf("PolicyCertExpiry = %v, want %v", r.PolicyCertExpiry, wantExpiry)
			}
		})
	}
}

// paddedPolicy returns goodPolicy with an extension field that makes it
// size bytes long.
func paddedPolicy(size int) string {
	const prefix = "x-pad: "
	return goodPolicy + prefix + strings.Repeat("p", size-len(goodPolicy)-len(prefix)-2) + "\r\n"
}

// endlessPolicy streams a chunked text/plain body until the client leaves.
func endlessPolicy() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		chunk := []byte(strings.Repeat("mx: mx.mail.test\n", 256))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

// hugeHeader answers with headers larger than any policy answer needs.
func hugeHeader() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		pad := strings.Repeat("h", 64<<10)
		for i := range 20 {
			w.Header().Add("X-Pad-"+string(rune('a'+i)), pad)
		}
		servePolicy(200, "text/plain", goodPolicy)(w, nil)
	}
}

func TestCheckOKReport(t *testing.T) {
	var got *http.Request
	handler := func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		http.SetCookie(w, &http.Cookie{Name: "tracker", Value: "1"})
		servePolicy(200, "text/plain", goodPolicy)(w, r)
	}
	r, ps, _ := checkCase{handler: http.HandlerFunc(handler)}.run(t)
	if r.Result != mtasts.ResultOK {
		t.Fatalf("Result = %q (%v)", r.Result, r.Err)
	}
	want := mtasts.Policy{Mode: mtasts.ModeEnforce, MaxAge: 86400 * time.Second, MX: []string{"mx1.mail.test", "*.mx.mail.test"}}
	if r.Policy.Mode != want.Mode || r.Policy.MaxAge != want.MaxAge || !slices.Equal(r.Policy.MX, want.MX) {
		t.Errorf("Policy = %+v, want %+v", *r.Policy, want)
	}
	if r.RecordID != "20260101T0000" {
		t.Errorf("RecordID = %q", r.RecordID)
	}
	if r.PolicyAddr.Addr().String() != "127.0.0.1" || int(r.PolicyAddr.Port()) != ps.port(t) {
		t.Errorf("PolicyAddr = %v, want 127.0.0.1:%d", r.PolicyAddr, ps.port(t))
	}
	if r.Duration <= 0 {
		t.Errorf("Duration = %v", r.Duration)
	}
	checkRequest(t, got, ps.port(t))
}

// checkRequest checks the one request the policy host received.
func checkRequest(t *testing.T, r *http.Request, port int) {
	t.Helper()
	if r.Method != http.MethodGet || r.URL.Path != "/.well-known/mta-sts.txt" || r.URL.RawQuery != "" {
		t.Errorf("request %s %s, want GET /.well-known/mta-sts.txt", r.Method, r.URL)
	}
	if want := policyHost + ":" + strconv.Itoa(port); r.Host != want {
		t.Errorf("Host = %q, want %q", r.Host, want)
	}
	if r.TLS == nil || r.TLS.ServerName != policyHost {
		t.Errorf("TLS server name = %+v, want %s", r.TLS, policyHost)
	}
	if ua := r.UserAgent(); !strings.Contains(ua, "smtp_exporter") {
		t.Errorf("User-Agent = %q, want one naming smtp_exporter", ua)
	}
	if !r.Close {
		t.Error("request did not ask to close the connection")
	}
	if len(r.Cookies()) != 0 || r.Header.Get("Authorization") != "" {
		t.Errorf("request carries credentials: %v", r.Header)
	}
}

func TestCheckTXTLookupFailure(t *testing.T) {
	dnsSrv := dnstest.NewServer(t, recordTXT, policyHostA)
	dnsSrv.SetType("_mta-sts.mail.test", dns.TypeTXT, dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	r := mtasts.Check(testContext(t, 3*time.Second), testDomain+".", mtasts.Options{Resolver: newResolver(t, dnsSrv)})
	var dnsErr *dnsclient.Error
	if r.Result != mtasts.ResultFetchFailed || !errors.As(r.Err, &dnsErr) || dnsErr.Kind != dnsclient.ServFail {
		t.Fatalf("Result = %q, Err = %v; want fetch_failed from a SERVFAIL", r.Result, r.Err)
	}
	if len(dnsSrv.QueriesFor(policyHost, dns.TypeA)) != 0 {
		t.Error("the policy host was looked up although the record is unknown")
	}
}
