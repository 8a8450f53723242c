package probe

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

func TestMetricsOfASTARTTLSEndpoint(t *testing.T) {
	ca := smtptest.NewCA(t)
	notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	cert := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}, NotAfter: notAfter, Serial: 0xabc})
	port := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert), User: "u", Password: "p"}.Start(t)
	m := smtptest.ModuleFrom(t, "tls_config: {ca_file: "+ca.WriteFile(t)+"}\n"+smtptest.PortModule(port, "starttls", ""))
	r := probePort(t, m, port, testBudget)
	c := answerOf([]*Result{r}, time.Second, time.Now())

	l := fmt.Sprintf(`host="127.0.0.1",port="%d"`, port)
	want := fmt.Sprintf(`
# HELP probe_smtp_up Whether the endpoint answered as an SMTP server: connected, TLS done on implicit ports, a 220 greeting and a 250 to EHLO or HELO.
# TYPE probe_smtp_up gauge
probe_smtp_up{%[1]s} 1
# HELP probe_smtp_success Whether the endpoint is up and met every expectation of the module.
# TYPE probe_smtp_success gauge
probe_smtp_success{%[1]s} 1
# HELP probe_success Whether the probe found at least one endpoint and every endpoint succeeded.
# TYPE probe_success gauge
probe_success 1
# HELP probe_ip_protocol The IP family dialled: 4 or 6.
# TYPE probe_ip_protocol gauge
probe_ip_protocol{%[1]s} 4
# HELP probe_smtp_status_code The last SMTP reply code before QUIT on success, the failing reply code on a reply failure, else 0.
# TYPE probe_smtp_status_code gauge
probe_smtp_status_code{%[1]s} 250
# HELP probe_smtp_starttls_advertised Whether the first EHLO reply advertised STARTTLS.
# TYPE probe_smtp_starttls_advertised gauge
probe_smtp_starttls_advertised{%[1]s} 1
# HELP probe_smtp_tls Whether the SMTP session ran under TLS.
# TYPE probe_smtp_tls gauge
probe_smtp_tls{%[1]s} 1
# HELP probe_smtp_auth_mechanism_info An AUTH mechanism offered before TLS (tls="false") or under TLS (tls="true").
# TYPE probe_smtp_auth_mechanism_info gauge
probe_smtp_auth_mechanism_info{host="127.0.0.1",mechanism="LOGIN",port="%[3]d",tls="true"} 1
probe_smtp_auth_mechanism_info{host="127.0.0.1",mechanism="PLAIN",port="%[3]d",tls="true"} 1
# HELP probe_tls_version_info The negotiated TLS version.
# TYPE probe_tls_version_info gauge
probe_tls_version_info{host="127.0.0.1",port="%[3]d",version="TLS 1.3"} 1
# HELP probe_smtp_cert_expiry_timestamp_seconds When the leaf certificate expires (its NotAfter), as a Unix timestamp.
# TYPE probe_smtp_cert_expiry_timestamp_seconds gauge
probe_smtp_cert_expiry_timestamp_seconds{%[1]s} %[2]d
# HELP probe_ssl_earliest_cert_expiry The earliest NotAfter of the served certificate chain, as a Unix timestamp.
# TYPE probe_ssl_earliest_cert_expiry gauge
probe_ssl_earliest_cert_expiry{%[1]s} %[2]d
# HELP probe_smtp_cert_verified Whether the served chain verifies to the configured or system roots.
# TYPE probe_smtp_cert_verified gauge
probe_smtp_cert_verified{%[1]s} 1
# HELP probe_smtp_cert_hostname_match Whether the leaf certificate is valid for the probed host name or the configured server name.
# TYPE probe_smtp_cert_hostname_match gauge
probe_smtp_cert_hostname_match{%[1]s} 1
# HELP probe_smtp_size_limit_bytes The message size limit advertised with the SIZE extension, in bytes.
# TYPE probe_smtp_size_limit_bytes gauge
probe_smtp_size_limit_bytes{%[1]s} 1.048576e+07
`, l, notAfter.Unix(), port)
	names := []string{"probe_smtp_up", "probe_smtp_success", "probe_success", "probe_ip_protocol",
		"probe_smtp_status_code", "probe_smtp_starttls_advertised", "probe_smtp_tls",
		"probe_smtp_auth_mechanism_info", "probe_tls_version_info", "probe_smtp_cert_expiry_timestamp_seconds",
		"probe_ssl_earliest_cert_expiry", "probe_smtp_cert_verified", "probe_smtp_cert_hostname_match",
		"probe_smtp_size_limit_bytes", "probe_smtp_failure_info"}
	if err := testutil.GatherAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	if n, _ := testutil.GatherAndCount(c, "probe_smtp_duration_seconds"); n != int(PhaseCount) {
		t.Errorf("%d phase series, want %d", n, PhaseCount)
	}
	if n, _ := testutil.GatherAndCount(c, "probe_smtp_extension_info"); n < 5 {
		t.Errorf("%d extension series, want the server's extensions", n)
	}
	days := gaugeValue(t, c, "probe_smtp_cert_days_until_expiry")
	if days < 29.9 || days > 30.01 {
		t.Errorf("days until expiry = %f, want about 30", days)
	}
	if n, _ := testutil.GatherAndCount(c, "probe_ssl_last_chain_info"); n != 1 {
		t.Errorf("%d chain info series, want 1", n)
	}
}

func TestMetricsOfAFailedEndpoint(t *testing.T) {
	port := smtptest.ClosedPort(t)
	r := probePort(t, smtptest.ModuleFrom(t, smtptest.PortModule(port, "starttls", "")), port, testBudget)
	c := answerOf([]*Result{r}, time.Second, time.Now())
	want := fmt.Sprintf(`
# HELP probe_smtp_failure_info Why the endpoint failed: the phase and reason of the first failure.
# TYPE probe_smtp_failure_info gauge
probe_smtp_failure_info{host="127.0.0.1",phase="connect",port="%[1]d",reason="refused"} 1
# HELP probe_smtp_status_code The last SMTP reply code before QUIT on success, the failing reply code on a reply failure, else 0.
# TYPE probe_smtp_status_code gauge
probe_smtp_status_code{host="127.0.0.1",port="%[1]d"} 0
# HELP probe_success Whether the probe found at least one endpoint and every endpoint succeeded.
# TYPE probe_success gauge
probe_success 0
`, port)
	if err := testutil.GatherAndCompare(c, strings.NewReader(want), "probe_smtp_failure_info", "probe_smtp_status_code", "probe_success"); err != nil {
		t.Error(err)
	}
	for _, absent := range []string{"probe_smtp_handshake_seconds", "probe_tls_version_info", "probe_smtp_cert_verified", "probe_smtp_starttls_advertised"} {
		if n, _ := testutil.GatherAndCount(c, absent); n != 0 {
			t.Errorf("%s has %d series on a refused endpoint, want none", absent, n)
		}
	}
	if n, _ := testutil.GatherAndCount(c, "probe_smtp_duration_seconds"); n != int(PhaseCount) {
		t.Errorf("%d phase series, want %d", n, PhaseCount)
	}
}

func TestProbeSuccessNeedsEveryEndpoint(t *testing.T) {
	up := &Result{Up: true}
	down := &Result{Up: true, Failure: &Failure{Phase: PhaseTLS, Reason: ReasonCertExpired}}
	for _, tc := range []struct {
		results []*Result
		want    bool
	}{{nil, false}, {[]*Result{up}, true}, {[]*Result{up, down}, false}, {[]*Result{{}}, false}} {
		if got := probeSucceeded(tc.results); got != tc.want {
			t.Errorf("probeSucceeded(%d results) = %t, want %t", len(tc.results), got, tc.want)
		}
	}
}

func TestIPv6LoopbackAndFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	ln.Close()

	t.Run("IPv6 literal", func(t *testing.T) {
		ln6, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		port := smtptest.PortOf(ln6.Addr())
		go func() {
			conn, err := ln6.Accept()
			if err == nil {
				c := smtptest.NewScriptConn(conn)
				c.Say("220 v6.test")
				c.ExpectVerb("EHLO")
				c.Say("250 v6.test")
				c.ServeUntilQuit()
				conn.Close()
			}
		}()
		t.Cleanup(func() { ln6.Close() })
		r := probeTarget(t, smtptest.ModuleFrom(t, smtptest.PortModule(port, "none", "")), fmt.Sprintf("[::1]:%d", port), staticResolver(t, nil))
		if !r.Success() || r.IPProtocol != 6 || r.Host != "::1" {
			t.Errorf("success=%t family=%d host=%q, want true 6 ::1\n%s", r.Success(), r.IPProtocol, r.Host, r.Transcript)
		}
		if !strings.Contains(r.Transcript.String(), "EHLO [IPv6:::1]") {
			t.Errorf("EHLO name is not the IPv6 address literal:\n%s", r.Transcript)
		}
	})
	t.Run("auto falls back to IPv4 when IPv6 is refused", func(t *testing.T) {
		port := smtptest.GoSMTPServer{}.Start(t)
		m := smtptest.ModuleFrom(t, smtptest.PortModule(port, "none", ""))
		m.EHLOHostname = ""
		res := staticResolver(t, map[string][]string{"mx.test": {"::1", "127.0.0.1"}})
		r := probeTarget(t, m, fmt.Sprintf("mx.test:%d", port), res)
		if !r.Success() || r.IPProtocol != 4 {
			t.Errorf("success=%t family=%d, want true 4\n%s", r.Success(), r.IPProtocol, r.Transcript)
		}
		if !strings.Contains(r.Transcript.String(), "connect to [::1]") {
			t.Errorf("IPv6 was not tried first:\n%s", r.Transcript)
		}
	})
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestProbeMetricsAreConsistent runs the answer of a multi-port probe
// through prometheus.Gatherers, which checks what a registry would: no
// duplicate series, label names consistent within a family, valid names.
func TestProbeMetricsAreConsistent(t *testing.T) {
	cert := smtptest.NewCA(t).Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
	tlsPort := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert), User: "u", Password: "p"}.Start(t)
	implicitPort := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert), Implicit: true}.Start(t)
	deadPort := smtptest.ClosedPort(t)
	m := smtptest.ModuleFrom(t, fmt.Sprintf("ports:\n  - {port: %d, tls: starttls}\n  - {port: %d, tls: implicit}\n  - {port: %d, tls: none}\n",
		tlsPort, implicitPort, deadPort))
	p := &Prober{Resolver: staticResolver(t, nil)}
	target, _ := ParseTarget("127.0.0.1")
	results := p.Probe(t.Context(), m, p.Endpoints(t.Context(), target, m))
	families, err := prometheus.Gatherers{answerOf(results, 0, time.Now())}.Gather()
	if err != nil {
		t.Fatalf("inconsistent answer: %v", err)
	}
	if n, _ := testutil.GatherAndCount(answerOf(results, 0, time.Now()), "probe_smtp_up"); n != 3 {
		t.Errorf("%d probe_smtp_up series, want 3", n)
	}
	if len(families) < 20 {
		t.Errorf("only %d families in a rich answer", len(families))
	}
}
