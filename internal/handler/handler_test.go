package handler

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/limits"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// nameResolver is a DNS server on loopback that knows the names it maps
// and no other, and a client asking it: handler tests never touch real DNS.
func nameResolver(t testing.TB, hosts map[string][]netip.Addr) probe.Resolver {
	t.Helper()
	return dnstest.NewServer(t, dnstest.Hosts(hosts)...).Client(t, false)
}

// silentResolver asks a DNS server on loopback that never answers.
func silentResolver(t testing.TB) probe.Resolver {
	t.Helper()
	srv := dnstest.NewServer(t)
	srv.SetDefault(dnstest.Behaviour{Drop: true})
	return srv.Client(t, false)
}

// slowResolver asks a DNS server on loopback that answers after a minute.
func slowResolver(t testing.TB) probe.Resolver {
	t.Helper()
	srv := dnstest.NewServer(t)
	srv.SetDefault(dnstest.Behaviour{Delay: time.Minute})
	return srv.Client(t, false)
}

// fixtureOptions tune newHandlerFixture; zero values pick the defaults.
type fixtureOptions struct {
	resolver      probe.Resolver // default: an empty nameResolver
	historyLimit  int            // default 10
	maxConcurrent int            // default 10
	sockets       int            // probe sockets admitted at once; 0: no admission control
}

// handlerFixture is a probe handler wired as main wires it, with its own
// registry for the exporter metrics.
type handlerFixture struct {
	handler *Handler
	reg     *prometheus.Registry
	metrics *ExporterMetrics
	history *History
	sockets *limits.Admission
	prober  *probe.Prober
}

func newHandlerFixture(t testing.TB, configYAML string, o fixtureOptions) *handlerFixture {
	t.Helper()
	cfg, err := config.Parse([]byte(configYAML), t.TempDir())
	if err != nil {
		t.Fatalf("config: %v\n%s", err, configYAML)
	}
	if o.resolver == nil {
		o.resolver = nameResolver(t, nil)
	}
	if o.historyLimit == 0 {
		o.historyLimit = 10
	}
	if o.maxConcurrent == 0 {
		o.maxConcurrent = 10
	}
	f := &handlerFixture{reg: prometheus.NewRegistry(), history: NewHistory(o.historyLimit, 16<<20)}
	if o.sockets > 0 {
		f.sockets = limits.NewAdmission(o.sockets)
	}
	f.prober = &probe.Prober{Resolver: o.resolver, Hostname: "prober.example.net"}
	f.metrics = NewExporterMetrics(f.reg)
	f.handler = New(Options{
		Config:        func() *config.Config { return cfg },
		Prober:        f.prober,
		Metrics:       f.metrics,
		History:       f.history,
		TimeoutOffset: 500 * time.Millisecond,
		MaxConcurrent: o.maxConcurrent,
		Sockets:       f.sockets,
	})
	return f
}

// probe serves GET /probe?query; headers are name, value pairs.
func (f *handlerFixture) probe(ctx context.Context, query string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/probe?"+query, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// requestErrors returns smtp_exporter_request_errors_total by reason.
func (f *handlerFixture) requestErrors() map[string]float64 {
	out := map[string]float64{}
	for _, reason := range requestErrorReasons {
		out[reason] = testutil.ToFloat64(f.metrics.requestErrors.WithLabelValues(reason))
	}
	return out
}

// probeQuery builds a /probe query string.
func probeQuery(target, module string, debug bool) string {
	v := url.Values{"target": {target}}
	if module != "" {
		v.Set("module", module)
	}
	if debug {
		v.Set("debug", "true")
	}
	return v.Encode()
}

func loopbackTarget(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// moduleYAML is a config with one module per name, each given as its YAML body.
func modulesYAML(modules map[string]string) string {
	var b strings.Builder
	b.WriteString("modules:\n")
	for name, body := range modules {
		b.WriteString("  " + name + ":\n" + smtptest.Indent(body, "    "))
	}
	return b.String()
}

// oneModule is a config whose module "default" probes the given ports with
// the given mode and timeout.
func oneModule(timeout string, mode config.TLSMode, ports ...int) string {
	body := "timeout: " + timeout + "\nports:\n"
	for _, p := range ports {
		body += fmt.Sprintf("  - {port: %d, tls: %s}\n", p, mode)
	}
	return modulesYAML(map[string]string{"default": body})
}

// countingServer greets and serves until QUIT, counting connections.
func countingServer(t *testing.T) (int, *atomic.Int64) {
	t.Helper()
	var accepted atomic.Int64
	port := smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
		accepted.Add(1)
		c.Say("220 counting.test ESMTP")
		if c.ExpectVerb("EHLO") {
			c.Say("250 counting.test")
			c.ServeUntilQuit()
		}
	})
	return port, &accepted
}

// neverGreetingServer accepts and never says a word, counting connections.
func neverGreetingServer(t *testing.T) (int, *atomic.Int64) {
	t.Helper()
	var accepted atomic.Int64
	port := smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
		accepted.Add(1)
		c.Hear() // until the prober hangs up or the test ends
	})
	return port, &accepted
}

// refusingPort returns a loopback port with nothing listening.
func refusingPort(t *testing.T) int {
	t.Helper()
	ln := smtptest.Listen(t)
	port := smtptest.PortOf(ln.Addr())
	ln.Close()
	return port
}

// scrape is a parsed text scrape.
type scrape map[string]*dto.MetricFamily

func parseExposition(t *testing.T, body string) scrape {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing scrape: %v\n%s", err, body)
	}
	return families
}

// series returns the metrics of family name whose labels include every
// name, value pair given.
func (s scrape) series(name string, labels ...string) []*dto.Metric {
	mf := s[name]
	if mf == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

func dtoValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// want asserts that exactly one series matches and has value v.
func (s scrape) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	got := s.series(name, labels...)
	if len(got) != 1 {
		t.Errorf("%s%q: %d series, want 1", name, labels, len(got))
		return
	}
	if value := dtoValue(got[0]); value != v {
		t.Errorf("%s%q = %v, want %v", name, labels, value, v)
	}
}

// absent asserts that no series matches.
func (s scrape) absent(t *testing.T, name string, labels ...string) {
	t.Helper()
	if got := s.series(name, labels...); len(got) != 0 {
		t.Errorf("%s%q: %d series, want none", name, labels, len(got))
	}
}

// selfSignedTLS is a server TLS config with a self-signed certificate for
// 127.0.0.1 and mx.test.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	var noCA *smtptest.CA
	return smtptest.ServerTLS(noCA.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1", "mx.test"}}))
}

func TestHandlerBadRequests(t *testing.T) {
	port, accepted := countingServer(t)
	target := loopbackTarget(port)
	tests := []struct {
		name    string
		query   string
		header  string // X-Prometheus-Scrape-Timeout-Seconds, when set
		reason  string
		bodyHas string
	}{
		{name: "missing target", query: "module=default", reason: "missing_target", bodyHas: "target"},
		{name: "no parameters", query: "", reason: "missing_target", bodyHas: "target"},
		{name: "empty target", query: "target=", reason: "missing_target", bodyHas: "target"},
		{name: "repeated target", query: "target=" + target + "&target=" + target, reason: "repeated_param", bodyHas: "target"},
		{name: "repeated module", query: "target=" + target + "&module=default&module=default", reason: "repeated_param", bodyHas: "module"},
		{name: "space in target", query: probeQuery("exa mple.test", "", false), reason: "bad_target", bodyHas: "exa mple.test"},
		{name: "URL as target", query: probeQuery("smtp://"+target, "", false), reason: "bad_target", bodyHas: "URL"},
		{name: "mail address as target", query: probeQuery("postmaster@mx.test", "", false), reason: "bad_target", bodyHas: "postmaster@mx.test"},
		{name: "unbalanced bracket", query: probeQuery("[::1", "", false), reason: "bad_target", bodyHas: "["},
		{name: "text after bracket", query: probeQuery("[::1]25", "", false), reason: "bad_target", bodyHas: "]"},
		{name: "two colons, not IPv6", query: probeQuery("mx.test:25:26", "", false), reason: "bad_target", bodyHas: "mx.test"},
		{name: "empty label", query: probeQuery("mx..test", "", false), reason: "bad_target", bodyHas: "label"},
		{name: "leading hyphen", query: probeQuery("-mx.test", "", false), reason: "bad_target", bodyHas: "-"},
		{name: "bad character", query: probeQuery("mx!.test", "", false), reason: "bad_target", bodyHas: "!"},
		{name: "non-ASCII", query: probeQuery("mäil.test", "", false), reason: "bad_target", bodyHas: "non-ASCII"},
		{name: "IPv6 zone", query: probeQuery("[fe80::1%25eth0]:25", "", false), reason: "bad_target", bodyHas: "zone"},
		{name: "empty host", query: probeQuery(":25", "", false), reason: "bad_target", bodyHas: "host"},
		{name: "empty port", query: probeQuery("127.0.0.1:", "", false), reason: "bad_port", bodyHas: "port"},
		{name: "empty port after IPv6", query: probeQuery("[::1]:", "", false), reason: "bad_port", bodyHas: "port"},
		{name: "port 0", query: probeQuery("127.0.0.1:0", "", false), reason: "bad_port", bodyHas: "0"},
		{name: "port 65536", query: probeQuery("127.0.0.1:65536", "", false), reason: "bad_port", bodyHas: "65536"},
		{name: "port not a number", query: probeQuery("127.0.0.1:smtp", "", false), reason: "bad_port", bodyHas: "smtp"},
		{name: "negative port", query: probeQuery("127.0.0.1:-25", "", false), reason: "bad_port", bodyHas: "-25"},
		{name: "unknown module", query: probeQuery(target, "nosuchmodule", false), reason: "unknown_module", bodyHas: "nosuchmodule"},
		{name: "timeout header abc", query: probeQuery(target, "", false), header: "abc", reason: "bad_timeout", bodyHas: "abc"},
		{name: "timeout header -1", query: probeQuery(target, "", false), header: "-1", reason: "bad_timeout", bodyHas: "-1"},
		{name: "timeout header 0", query: probeQuery(target, "", false), header: "0", reason: "bad_timeout", bodyHas: "0"},
		{name: "timeout header NaN", query: probeQuery(target, "", false), header: "NaN", reason: "bad_timeout", bodyHas: "NaN"},
		{name: "timeout header Inf", query: probeQuery(target, "", false), header: "Inf", reason: "bad_timeout", bodyHas: "Inf"},
		{name: "timeout header +Inf", query: probeQuery(target, "", false), header: "+Inf", reason: "bad_timeout", bodyHas: "+Inf"},
		{name: "timeout header overflow", query: probeQuery(target, "", false), header: "1e400", reason: "bad_timeout", bodyHas: "1e400"},
		{name: "timeout header with unit", query: probeQuery(target, "", false), header: "10s", reason: "bad_timeout", bodyHas: "10s"},
		{name: "debug=yes", query: probeQuery(target, "", false) + "&debug=yes", reason: "bad_param", bodyHas: "yes"},
		{name: "debug=2", query: probeQuery(target, "", false) + "&debug=2", reason: "bad_param", bodyHas: "debug"},
		{name: "debug empty", query: probeQuery(target, "", false) + "&debug=", reason: "bad_param", bodyHas: "debug"},
		{name: "debug with HTML", query: probeQuery(target, "", false) + "&debug=%3Cb%3E", reason: "bad_param", bodyHas: "<b>"},
		{name: "repeated debug", query: probeQuery(target, "", false) + "&debug=1&debug=1", reason: "repeated_param", bodyHas: "debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHandlerFixture(t, oneModule("2s", config.TLSNone, port), fixtureOptions{})
			var headers []string
			if tt.header != "" {
				headers = []string{scrapeTimeoutHeader, tt.header}
			}
			before := accepted.Load()
			rec := f.probe(t.Context(), tt.query, headers...)

			if rec.Code != http.StatusBadRequest {
				t.Errorf("status %d, want 400; body %q", rec.Code, rec.Body)
			}
			body := rec.Body.String()
			if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") || len(strings.TrimSpace(body)) == 0 {
				t.Errorf("body %q is not one non-empty line", body)
			}
			if !strings.Contains(body, tt.bodyHas) {
				t.Errorf("body %q does not mention %q", body, tt.bodyHas)
			}
			for reason, n := range f.requestErrors() {
				want := 0.0
				if reason == tt.reason {
					want = 1
				}
				if n != want {
					t.Errorf("smtp_exporter_request_errors_total{reason=%q} = %v, want %v", reason, n, want)
				}
			}
			if n := accepted.Load() - before; n != 0 {
				t.Errorf("%d connections made to the target, want none", n)
			}
			if n := testutil.CollectAndCount(f.metrics.probes); n != 0 {
				t.Errorf("smtp_exporter_probes_total has %d series after a refused request, want none", n)
			}
			if got := testutil.ToFloat64(f.metrics.inFlight); got != 0 {
				t.Errorf("smtp_exporter_probes_in_flight = %v, want 0", got)
			}
			if n := len(f.history.newestFirst()); n != 0 {
				t.Errorf("history holds %d probes after a refused request, want none", n)
			}
		})
	}
}

// TestHandlerDebugParam: debug takes every spelling strconv.ParseBool
// takes; the true ones answer with the text transcript, the false ones with
// the plain exposition.
func TestHandlerDebugParam(t *testing.T) {
	port, _ := countingServer(t)
	f := newHandlerFixture(t, oneModule("2s", config.TLSNone, port), fixtureOptions{})
	for value, debug := range map[string]bool{
		"1": true, "t": true, "T": true, "true": true, "TRUE": true, "True": true,
		"0": false, "f": false, "F": false, "false": false, "FALSE": false, "False": false,
	} {
		t.Run(value, func(t *testing.T) {
			rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", false)+"&debug="+value)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200; body %q", rec.Code, rec.Body)
			}
			isDebug := strings.Contains(rec.Body.String(), "\n== Metrics\n")
			if isDebug != debug {
				t.Errorf("debug=%s: debug output %t, want %t; body:\n%s", value, isDebug, debug, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), "probe_success 1") {
				t.Errorf("debug=%s: body lacks probe_success 1:\n%s", value, rec.Body)
			}
		})
	}
	if errs := f.requestErrors(); errs["bad_param"] != 0 {
		t.Errorf("smtp_exporter_request_errors_total{reason=\"bad_param\"} = %v after valid requests, want 0", errs["bad_param"])
	}
}

// TestRequestErrorsPrecreated: every refusal reason, bad_param included, is
// exported at 0 before any request.
func TestRequestErrorsPrecreated(t *testing.T) {
	f := newHandlerFixture(t, oneModule("2s", config.TLSNone, 25), fixtureOptions{})
	var want strings.Builder
	want.WriteString("# HELP smtp_exporter_request_errors_total Probe requests refused before probing, by reason.\n")
	want.WriteString("# TYPE smtp_exporter_request_errors_total counter\n")
	for _, reason := range []string{"bad_param", "bad_port", "bad_target", "bad_timeout", "missing_target", "not_allowed", "overloaded", "repeated_param", "unknown_module"} {
		fmt.Fprintf(&want, "smtp_exporter_request_errors_total{reason=%q} 0\n", reason)
	}
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want.String()), "smtp_exporter_request_errors_total"); err != nil {
		t.Error(err)
	}
}

// TestHandlerDefaultModule: without module=, the module named default runs,
// and a config without one refuses the request.
func TestHandlerDefaultModule(t *testing.T) {
	port, accepted := countingServer(t)
	body := fmt.Sprintf("timeout: 2s\nports:\n  - {port: %d, tls: none}\n", port)
	t.Run("default present", func(t *testing.T) {
		f := newHandlerFixture(t, modulesYAML(map[string]string{"default": body}), fixtureOptions{})
		for _, q := range []string{"target=127.0.0.1", "target=127.0.0.1&module="} {
			rec := f.probe(t.Context(), q)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d, want 200", q, rec.Code)
			}
			parseExposition(t, rec.Body.String()).want(t, 1, "probe_success")
		}
		if got := testutil.ToFloat64(f.metrics.probes.WithLabelValues("default", "success")); got != 2 {
			t.Errorf("probes_total{module=default,result=success} = %v, want 2", got)
		}
	})
	t.Run("default absent", func(t *testing.T) {
		f := newHandlerFixture(t, modulesYAML(map[string]string{"mx": body}), fixtureOptions{})
		before := accepted.Load()
		rec := f.probe(t.Context(), "target=127.0.0.1")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"default"`) {
			t.Errorf("status %d, body %q: want 400 naming module \"default\"", rec.Code, rec.Body)
		}
		if got := f.requestErrors()["unknown_module"]; got != 1 {
			t.Errorf("request_errors_total{reason=unknown_module} = %v, want 1", got)
		}
		if accepted.Load() != before {
			t.Error("a connection was made")
		}
	})
}

func TestHandlerAllowedTargets(t *testing.T) {
	port, accepted := countingServer(t)
	resolver := nameResolver(t, map[string][]netip.Addr{
		"allowed.test":        {netip.MustParseAddr("127.0.0.1")},
		"elsewhere.test":      {netip.MustParseAddr("127.0.0.2")},
		"mixed.test":          {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")},
		"second.test":         {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")},
		"third.test":          {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::ffff:127.0.0.9")},
		"mx.good.test":        {netip.MustParseAddr("127.0.0.1")},
		"rebinding.evil.test": {netip.MustParseAddr("127.0.0.1")},
	})
	cfgText := oneModule("2s", config.TLSNone, port) + "allowed_targets: [127.0.0.1/32, '*.good.test']\n"
	tests := []struct {
		target     string
		wantStatus int
	}{
		{"allowed.test", http.StatusOK},
		{"allowed.test:" + strconv.Itoa(port), http.StatusOK},
		{loopbackTarget(port), http.StatusOK},
		{"mx.good.test:" + strconv.Itoa(port), http.StatusOK},
		{"rebinding.evil.test", http.StatusOK}, // resolves into an allowed range
		{"elsewhere.test", http.StatusForbidden},
		{"elsewhere.test:" + strconv.Itoa(port), http.StatusForbidden},
		{"127.0.0.2:" + strconv.Itoa(port), http.StatusForbidden},
		{"[::1]:" + strconv.Itoa(port), http.StatusForbidden},
		{"mixed.test", http.StatusForbidden}, // the IPv4 address it would dial is outside
		// Every address is checked, not only the one dialled.
		{"second.test", http.StatusForbidden},
		{"third.test", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			f := newHandlerFixture(t, cfgText, fixtureOptions{resolver: resolver})
			before := accepted.Load()
			rec := f.probe(t.Context(), probeQuery(tt.target, "", false))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tt.wantStatus, rec.Body)
			}
			errs := f.requestErrors()
			if tt.wantStatus == http.StatusForbidden {
				if body := rec.Body.String(); strings.Count(body, "\n") != 1 || !strings.Contains(body, "allowed_targets") {
					t.Errorf("body %q: want one line naming allowed_targets", body)
				}
				if errs["not_allowed"] != 1 {
					t.Errorf("request_errors_total{reason=not_allowed} = %v, want 1", errs["not_allowed"])
				}
				if n := accepted.Load() - before; n != 0 {
					t.Errorf("%d connections made, want none", n)
				}
				if n := testutil.CollectAndCount(f.metrics.probes); n != 0 {
					t.Errorf("smtp_exporter_probes_total has %d series after a refused probe, want none", n)
				}
				return
			}
			for reason, n := range errs {
				if n != 0 {
					t.Errorf("request_errors_total{reason=%q} = %v, want 0", reason, n)
				}
			}
			parseExposition(t, rec.Body.String()).want(t, 1, "probe_success")
			if n := accepted.Load() - before; n != 1 {
				t.Errorf("%d connections made, want 1", n)
			}
		})
	}
}

// TestHandlerSocketAdmission: a probe whose sockets do not fit in what the
// descriptor limit leaves is refused with 503 before it dials, and the
// sockets of finished probes are given back.
func TestHandlerSocketAdmission(t *testing.T) {
	portA, accepted := neverGreetingServer(t)
	portB, _ := neverGreetingServer(t)
	cfg := oneModule("1s", config.TLSNone, portA, portB)
	f := newHandlerFixture(t, cfg, fixtureOptions{sockets: 3})

	done := make(chan int)
	go func() { done <- f.probe(t.Context(), probeQuery("127.0.0.1", "", false)).Code }()
	deadline := time.Now().Add(2 * time.Second)
	for accepted.Load() < 1 || f.sockets.InUse() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the first probe never got in flight: sockets in use %d", f.sockets.InUse())
		}
		time.Sleep(5 * time.Millisecond)
	}
	rec := f.probe(t.Context(), probeQuery("127.0.0.1", "", false))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "descriptor limit") {
		t.Errorf("second 2-port probe: status %d, body %q; want 503 naming the descriptor limit", rec.Code, rec.Body)
	}
	if got := f.requestErrors()["overloaded"]; got != 1 {
		t.Errorf("request_errors_total{reason=overloaded} = %v, want 1", got)
	}
	onePort := f.probe(t.Context(), probeQuery(loopbackTarget(portA), "", false), scrapeTimeoutHeader, "0.6")
	if onePort.Code != http.StatusOK {
		t.Errorf("a 1-port probe that fits: status %d, want 200", onePort.Code)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("first probe: status %d, want 200", code)
	}
	if n := f.sockets.InUse(); n != 0 {
		t.Errorf("%d sockets still in use after every probe ended", n)
	}
}

func TestHandlerOverloaded(t *testing.T) {
	const maxConcurrent = 2
	port, accepted := neverGreetingServer(t)
	f := newHandlerFixture(t, oneModule("5s", config.TLSNone, port), fixtureOptions{maxConcurrent: maxConcurrent})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	codes := make([]int, maxConcurrent)
	for i := range maxConcurrent {
		wg.Go(func() { codes[i] = f.probe(ctx, probeQuery(loopbackTarget(port), "", false)).Code })
	}
	deadline := time.Now().Add(2 * time.Second)
	for accepted.Load() < maxConcurrent || testutil.ToFloat64(f.metrics.inFlight) < maxConcurrent {
		if time.Now().After(deadline) {
			t.Fatalf("probes never got in flight: %d accepted, in flight %v", accepted.Load(), testutil.ToFloat64(f.metrics.inFlight))
		}
		time.Sleep(5 * time.Millisecond)
	}

	start := time.Now()
	rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", false))
	took := time.Since(start)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503; body %q", rec.Code, rec.Body)
	}
	if took > 200*time.Millisecond {
		t.Errorf("503 took %s, want an immediate answer", took)
	}
	if body := rec.Body.String(); strings.Count(body, "\n") != 1 || !strings.Contains(body, strconv.Itoa(maxConcurrent)) {
		t.Errorf("body %q: want one line naming the limit %d", body, maxConcurrent)
	}
	if got := f.requestErrors()["overloaded"]; got != 1 {
		t.Errorf("request_errors_total{reason=overloaded} = %v, want 1", got)
	}
	if n := accepted.Load(); n != maxConcurrent {
		t.Errorf("%d connections, want %d: the refused request must not dial", n, maxConcurrent)
	}

	cancel()
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("held probe %d answered %d, want 200", i, code)
		}
	}
	if got := testutil.ToFloat64(f.metrics.inFlight); got != 0 {
		t.Errorf("smtp_exporter_probes_in_flight = %v after the probes ended, want 0", got)
	}
	// The slots are free again.
	dead := refusingPort(t)
	if rec := f.probe(t.Context(), probeQuery(loopbackTarget(dead), "", false)); rec.Code != http.StatusOK {
		t.Errorf("after the load: status %d, want 200; body %q", rec.Code, rec.Body)
	}
}

func TestHandlerProbeDeadTarget(t *testing.T) {
	port := refusingPort(t)
	f := newHandlerFixture(t, oneModule("2s", config.TLSStartTLS, port), fixtureOptions{})
	rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", false))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 (a failed target is data); body %q", rec.Code, rec.Body)
	}
	s := parseExposition(t, rec.Body.String())
	ep := []string{"host", "127.0.0.1", "port", strconv.Itoa(port)}
	s.want(t, 0, "probe_success")
	s.want(t, 0, "probe_smtp_up", ep...)
	s.want(t, 0, "probe_smtp_success", ep...)
	s.want(t, 1, "probe_smtp_failure_info", append(ep, "phase", "connect", "reason", "refused")...)
	if n := len(s.series("probe_smtp_failure_info")); n != 1 {
		t.Errorf("%d probe_smtp_failure_info series, want exactly 1", n)
	}
	s.want(t, 0, "probe_smtp_status_code", ep...)
	s.want(t, 4, "probe_ip_protocol", ep...)
	s.absent(t, "probe_smtp_handshake_seconds")
	s.absent(t, "probe_smtp_starttls_advertised")
	s.absent(t, "probe_tls_version_info")
	if n := len(s.series("probe_smtp_duration_seconds", ep...)); n != int(probe.PhaseCount) {
		t.Errorf("%d phase series, want %d even on a dead endpoint", n, probe.PhaseCount)
	}
}

// TestHandlerNegotiatesTheFormat: Prometheus's Accept gets OpenMetrics,
// a bare client the text format, a protobuf Accept delimited protobuf;
// each answer decodes to the same series in the format its Content-Type
// names.
func TestHandlerNegotiatesTheFormat(t *testing.T) {
	port := refusingPort(t)
	f := newHandlerFixture(t, oneModule("2s", config.TLSStartTLS, port), fixtureOptions{})
	for _, tc := range []struct{ accept, contentType string }{
		{"", "text/plain; version=0.0.4"},
		{"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			"application/openmetrics-text; version=1.0.0"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
			"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"},
	} {
		rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", false), "Accept", tc.accept)
		contentType := rec.Header().Get("Content-Type")
		if rec.Code != http.StatusOK || !strings.HasPrefix(contentType, tc.contentType) {
			t.Errorf("Accept %q: HTTP %d, Content-Type %q, want 200 and %q", tc.accept, rec.Code, contentType, tc.contentType)
			continue
		}
		if n, _ := strconv.Atoi(rec.Header().Get("Content-Length")); n != rec.Body.Len() {
			t.Errorf("Accept %q: Content-Length %d for %d bytes", tc.accept, n, rec.Body.Len())
		}
		s := scrape{}
		dec := expfmt.NewDecoder(rec.Body, expfmt.ResponseFormat(rec.Header()))
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("Accept %q: decoding: %v", tc.accept, err)
				}
				break
			}
			s[mf.GetName()] = mf
		}
		s.want(t, 0, "probe_success")
		s.want(t, 1, "probe_smtp_failure_info", "port", strconv.Itoa(port), "phase", "connect", "reason", "refused")
		if n := len(s.series("probe_smtp_duration_seconds")); n != int(probe.PhaseCount) {
			t.Errorf("Accept %q: %d phase series, want %d", tc.accept, n, probe.PhaseCount)
		}
	}
}

func TestHandlerProbeStartTLS(t *testing.T) {
	port := smtptest.GoSMTPServer{TLS: selfSignedTLS(t)}.Start(t)
	f := newHandlerFixture(t, oneModule("5s", config.TLSStartTLS, port), fixtureOptions{})
	rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", false))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text scrape format", ct)
	}
	s := parseExposition(t, rec.Body.String())
	ep := []string{"host", "127.0.0.1", "port", strconv.Itoa(port)}
	s.want(t, 1, "probe_success")
	s.want(t, 1, "probe_smtp_up", ep...)
	s.want(t, 1, "probe_smtp_success", ep...)
	s.want(t, 1, "probe_smtp_tls", ep...)
	s.want(t, 1, "probe_smtp_starttls_advertised", ep...)
	s.want(t, 1, "probe_tls_version_info", append(ep, "version", "TLS 1.3")...)
	s.want(t, 250, "probe_smtp_status_code", ep...)
	s.want(t, 4, "probe_ip_protocol", ep...)
	s.absent(t, "probe_smtp_failure_info")
	for _, name := range []string{"probe_tls_cipher_info", "probe_smtp_handshake_seconds",
		"probe_smtp_cert_expiry_timestamp_seconds", "probe_smtp_cert_days_until_expiry",
		"probe_ssl_earliest_cert_expiry", "probe_smtp_cert_verified", "probe_smtp_cert_hostname_match",
		"probe_ssl_last_chain_info", "probe_duration_seconds"} {
		if len(s.series(name)) != 1 {
			t.Errorf("%s: %d series, want 1", name, len(s.series(name)))
		}
	}
	s.want(t, 0, "probe_smtp_cert_verified", ep...) // self-signed, no CA configured
	s.want(t, 1, "probe_smtp_cert_hostname_match", ep...)

	phases := s.series("probe_smtp_duration_seconds", ep...)
	if len(phases) != int(probe.PhaseCount) {
		t.Errorf("%d phase series, want %d", len(phases), probe.PhaseCount)
	}
	for _, phase := range []string{"resolve", "connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls", "auth", "quit"} {
		got := s.series("probe_smtp_duration_seconds", append(ep, "phase", phase)...)
		if len(got) != 1 {
			t.Errorf("phase %s: %d series, want 1", phase, len(got))
			continue
		}
		v := dtoValue(got[0])
		switch phase {
		case "connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls":
			if v <= 0 {
				t.Errorf("phase %s took %v, want > 0", phase, v)
			}
		case "resolve": // an IP target: nothing to look up
			if v > 0.001 {
				t.Errorf("phase resolve took %v for an IP target, want about 0", v)
			}
		case "auth": // no auth configured
			if v != 0 {
				t.Errorf("phase auth took %v, want 0 (skipped)", v)
			}
		}
	}
}

func TestHandlerBudget(t *testing.T) {
	const slack = 250 * time.Millisecond
	tests := []struct {
		name          string
		moduleTimeout string
		header        string
		budget        time.Duration
		hangDNS       bool // the name never resolves: the budget covers DNS too
		silentDNS     bool // Go's resolver, its server silent
		phase, reason string
	}{
		{name: "header caps the module timeout", moduleTimeout: "10s", header: "1.5", budget: time.Second, phase: "banner", reason: "timeout"},
		{name: "module timeout without header", moduleTimeout: "1s", budget: time.Second, phase: "banner", reason: "timeout"},
		{name: "DNS that never answers", moduleTimeout: "10s", header: "1.5", budget: time.Second, hangDNS: true, phase: "resolve", reason: "timeout"},
		{name: "DNS server that never answers", moduleTimeout: "10s", header: "1.5", budget: time.Second, hangDNS: true, silentDNS: true, phase: "resolve", reason: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			port, _ := neverGreetingServer(t)
			resolver := silentResolver(t)
			if tt.silentDNS {
				resolver = slowResolver(t)
			}
			f := newHandlerFixture(t, oneModule(tt.moduleTimeout, config.TLSStartTLS, port), fixtureOptions{resolver: resolver})
			var headers []string
			if tt.header != "" {
				headers = []string{scrapeTimeoutHeader, tt.header}
			}
			target := loopbackTarget(port)
			if tt.hangDNS {
				target = "slow.test:" + strconv.Itoa(port)
			}
			start := time.Now()
			rec := f.probe(t.Context(), probeQuery(target, "", false), headers...)
			took := time.Since(start)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200; body %q", rec.Code, rec.Body)
			}
			if took > tt.budget+slack {
				t.Errorf("answer took %s, want at most the %s budget + %s", took, tt.budget, slack)
			}
			if took < tt.budget-100*time.Millisecond {
				t.Errorf("answer took %s, well short of the %s budget: the probe gave up early", took, tt.budget)
			}
			s := parseExposition(t, rec.Body.String())
			s.want(t, 0, "probe_success")
			s.want(t, 1, "probe_smtp_failure_info", "port", strconv.Itoa(port), "phase", tt.phase, "reason", tt.reason)
			d := s.series("probe_duration_seconds")
			if len(d) != 1 || dtoValue(d[0]) > (tt.budget+slack).Seconds() {
				t.Errorf("probe_duration_seconds %v, want one series within the budget", d)
			}
		})
	}
}

// TestHandlerBudgetComputation reads the budget from the debug output of
// probes of a dead port, which end at once.
func TestHandlerBudgetComputation(t *testing.T) {
	port := refusingPort(t)
	tests := []struct {
		moduleTimeout, header string
		want                  string
	}{
		{"10s", "", "10s budget"},
		{"10s", "1.5", "1s budget"},
		{"10s", "15", "10s budget"},
		{"3s", "15", "3s budget"},
		{"10s", "0.75", "250ms budget"},
		{"10s", "2", "1.5s budget"},
		{"10s", "0.4", "400ms budget"}, // shorter than the offset: the scrape timeout itself
		// Large and small values are clamped, never overflowed.
		{"10s", "1e-300", "1ms budget"},
		{"10s", "0.0001", "1ms budget"},
		{"10s", "0.001", "1ms budget"},
		{"10s", "10.5", "10s budget"},
		{"10s", "9223372036", "10s budget"},
		{"10s", "9223372037", "10s budget"},
		{"10s", "1e10", "10s budget"},
		{"10s", "1e19", "10s budget"},
		{"10s", "1e300", "10s budget"},
		{"10s", "1.7976931348623157e308", "10s budget"},
	}
	for _, tt := range tests {
		t.Run(tt.moduleTimeout+"/"+tt.header, func(t *testing.T) {
			f := newHandlerFixture(t, oneModule(tt.moduleTimeout, config.TLSNone, port), fixtureOptions{})
			var headers []string
			if tt.header != "" {
				headers = []string{scrapeTimeoutHeader, tt.header}
			}
			rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", true), headers...)
			first, _, _ := strings.Cut(rec.Body.String(), "\n")
			if rec.Code != http.StatusOK || !strings.Contains(first, " of a "+tt.want) {
				t.Errorf("status %d, first line %q: want 200 and %q", rec.Code, first, tt.want)
			}
		})
	}
}

func TestHandlerProbePorts(t *testing.T) {
	port := smtptest.GoSMTPServer{TLS: selfSignedTLS(t)}.Start(t)
	dead := refusingPort(t)
	cfgText := modulesYAML(map[string]string{
		// Lists the server's port as plaintext-only, beside another port.
		"listed": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n  - {port: %d, tls: none}\n", dead, port),
		// Does not list the server's port: starttls applies.
		"unlisted": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: none}\n", dead),
	})
	f := newHandlerFixture(t, cfgText, fixtureOptions{})
	ep := []string{"host", "127.0.0.1", "port", strconv.Itoa(port)}

	t.Run("listed port keeps the module's settings", func(t *testing.T) {
		s := parseExposition(t, f.probe(t.Context(), probeQuery(loopbackTarget(port), "listed", false)).Body.String())
		s.want(t, 1, "probe_success")
		s.want(t, 0, "probe_smtp_tls", ep...)
		s.absent(t, "probe_smtp_starttls_advertised")
		s.absent(t, "probe_tls_version_info")
		if n := len(s.series("probe_smtp_up")); n != 1 {
			t.Errorf("%d endpoints probed, want only the target's port", n)
		}
		s.absent(t, "probe_smtp_up", "port", strconv.Itoa(dead))
	})
	t.Run("unlisted port gets starttls", func(t *testing.T) {
		s := parseExposition(t, f.probe(t.Context(), probeQuery(loopbackTarget(port), "unlisted", false)).Body.String())
		s.want(t, 1, "probe_success")
		s.want(t, 1, "probe_smtp_starttls_advertised", ep...)
		s.want(t, 1, "probe_smtp_tls", ep...)
		s.want(t, 1, "probe_tls_version_info", append(ep, "version", "TLS 1.3")...)
		if n := len(s.series("probe_smtp_up")); n != 1 {
			t.Errorf("%d endpoints probed, want 1", n)
		}
	})
	t.Run("no port probes every port of the module", func(t *testing.T) {
		s := parseExposition(t, f.probe(t.Context(), probeQuery("127.0.0.1", "listed", false)).Body.String())
		s.want(t, 0, "probe_success")
		s.want(t, 1, "probe_smtp_success", ep...)
		s.want(t, 0, "probe_smtp_tls", ep...)
		s.want(t, 0, "probe_smtp_up", "port", strconv.Itoa(dead))
		s.want(t, 1, "probe_smtp_failure_info", "port", strconv.Itoa(dead), "phase", "connect", "reason", "refused")
		if n := len(s.series("probe_smtp_up")); n != 2 {
			t.Errorf("%d endpoints probed, want 2", n)
		}
	})
	t.Run("debug names each endpoint's mode", func(t *testing.T) {
		body := f.probe(t.Context(), probeQuery(loopbackTarget(port), "unlisted", true)).Body.String()
		if want := fmt.Sprintf("== 127.0.0.1 port %d (starttls)", port); !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, body)
		}
		if n := strings.Count(body, "== 127.0.0.1 port"); n != 1 {
			t.Errorf("debug output has %d endpoints, want 1", n)
		}
	})
	// Without dialling 465 on this machine: the endpoint step picks the mode.
	t.Run("unlisted 465 is implicit, others starttls", func(t *testing.T) {
		m := f.handler.opts.Config().Modules["unlisted"]
		r := nameResolver(t, map[string][]netip.Addr{"mx.test": {netip.MustParseAddr("127.0.0.1")}})
		for _, tc := range []struct {
			port int
			mode config.TLSMode
		}{{465, config.TLSImplicit}, {587, config.TLSStartTLS}, {25, config.TLSStartTLS}, {dead, config.TLSNone}} {
			pl, _ := plan.ForHost(t.Context(), r, "mx.test", plan.OptionsFor(m, tc.port, nil))
			eps := pl.Endpoints
			if len(eps) != 1 || eps[0].Port != tc.port || eps[0].Settings.TLS != tc.mode {
				t.Errorf("port %d: endpoints %+v, want one with mode %s", tc.port, eps, tc.mode)
			}
		}
	})
}

func TestHandlerExporterMetrics(t *testing.T) {
	good := smtptest.GoSMTPServer{}.Start(t)
	dead := refusingPort(t)
	cfgText := modulesYAML(map[string]string{
		"good": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n", good),
		"bad":  fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n", dead),
	})
	f := newHandlerFixture(t, cfgText, fixtureOptions{})
	for _, q := range []string{
		probeQuery("127.0.0.1", "good", false),
		probeQuery("127.0.0.1", "good", true),
		probeQuery("127.0.0.1", "bad", false),
		probeQuery("127.0.0.1", "nosuchmodule", false), // refused: not a probe
		probeQuery("127.0.0.1:0", "good", false),       // refused: not a probe
	} {
		f.probe(t.Context(), q)
	}
	want := `
# HELP smtp_exporter_probes_total Probes run, by module and result (success or failure).
# TYPE smtp_exporter_probes_total counter
smtp_exporter_probes_total{module="bad",result="failure"} 1
smtp_exporter_probes_total{module="good",result="success"} 2
# HELP smtp_exporter_probes_in_flight Probes running right now.
# TYPE smtp_exporter_probes_in_flight gauge
smtp_exporter_probes_in_flight 0
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want),
		"smtp_exporter_probes_total", "smtp_exporter_probes_in_flight"); err != nil {
		t.Error(err)
	}
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var count uint64 = 1 << 63
	for _, mf := range families {
		if mf.GetName() == "smtp_exporter_probe_duration_seconds" {
			count = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if count != 3 {
		t.Errorf("smtp_exporter_probe_duration_seconds count = %d, want 3", count)
	}
	errs := f.requestErrors()
	if errs["unknown_module"] != 1 || errs["bad_port"] != 1 {
		t.Errorf("request errors %v, want unknown_module 1 and bad_port 1", errs)
	}
	// Every reason is exported from the start, at 0.
	if n := testutil.CollectAndCount(f.metrics.requestErrors); n != len(requestErrorReasons) {
		t.Errorf("%d request error series, want %d", n, len(requestErrorReasons))
	}
}

// promtoolCheck runs promtool check metrics on scrape text and fails on
// any complaint except the accepted one about the days gauge.
func promtoolCheck(t *testing.T, promtool, scrape string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "probe_smtp_cert_days_until_expiry ") {
			t.Errorf("promtool: %s", line)
		}
	}
	if exit, ok := err.(*exec.ExitError); err != nil && !(ok && exit.ExitCode() == 3 && len(out) > 0) {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH; install prometheus to run this check")
	}
	var noCA *smtptest.CA
	cert := noCA.Issue(t, smtptest.CertSpec{Names: []string{"mx.test"}})
	port := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert), User: "someone", Password: "pw"}.Start(t)
	f := newHandlerFixture(t, oneModule("5s", config.TLSStartTLS, port), fixtureOptions{
		resolver: nameResolver(t, map[string][]netip.Addr{"mx.test": {netip.MustParseAddr("127.0.0.1")}}),
	})

	t.Run("probe", func(t *testing.T) {
		rec := f.probe(t.Context(), probeQuery("mx.test", "", false))
		body := rec.Body.String()
		if !strings.Contains(body, "probe_smtp_cert_days_until_expiry{") || !strings.Contains(body, "probe_smtp_auth_mechanism_info{") {
			t.Fatalf("probe lacks the certificate or AUTH series:\n%s", body)
		}
		promtoolCheck(t, promtool, body)
	})
	t.Run("failed probe", func(t *testing.T) {
		promtoolCheck(t, promtool, f.probe(t.Context(), probeQuery(loopbackTarget(refusingPort(t)), "", false)).Body.String())
	})
	t.Run("exporter", func(t *testing.T) {
		f.probe(t.Context(), "") // one request error
		config.NewSafeConfig("", f.reg)
		reg := prometheus.Gatherers{f.reg}
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		for _, name := range []string{"smtp_exporter_probes_total", "smtp_exporter_probe_duration_seconds_bucket",
			"smtp_exporter_request_errors_total", "smtp_exporter_config_last_reload_successful"} {
			if !strings.Contains(body, name) {
				t.Errorf("exporter metrics lack %s", name)
			}
		}
		promtoolCheck(t, promtool, body)
	})
}

// TestHandlerScraperGone: a probe whose scraper hung up is neither counted
// nor kept in the history — its sessions were cut, they did not fail.
func TestHandlerScraperGone(t *testing.T) {
	port, _ := neverGreetingServer(t)
	f := newHandlerFixture(t, oneModule("5s", config.TLSNone, port), fixtureOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	f.probe(ctx, probeQuery(loopbackTarget(port), "", false))
	if took := time.Since(start); took > time.Second {
		t.Errorf("the probe ran %s after its scraper left", took)
	}
	if n := testutil.CollectAndCount(f.metrics.probes); n != 0 {
		t.Errorf("%d probes_total series after an abandoned probe, want none", n)
	}
	if got := len(f.history.newestFirst()); got != 0 {
		t.Errorf("history holds %d probes, want none", got)
	}
}

// TestHistoryKeepsTheAnswerNotTheCertificates: /history shows the whole
// answer and transcript of a TLS probe from a record that keeps each
// endpoint's verdict and transcript (its type has no room for the
// certificates and TLS state the answer was built from).
func TestHistoryKeepsTheAnswerNotTheCertificates(t *testing.T) {
	port := smtptest.GoSMTPServer{TLS: selfSignedTLS(t)}.Start(t)
	f := newHandlerFixture(t, oneModule("5s", config.TLSStartTLS, port), fixtureOptions{})
	if rec := f.probe(context.Background(), probeQuery(loopbackTarget(port), "", false)); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	records := f.history.newestFirst()
	if len(records) != 1 {
		t.Fatalf("%d records, want 1", len(records))
	}
	if eps := records[0].Endpoints; len(eps) != 1 || eps[0].Port != port || eps[0].Transcript == nil {
		t.Errorf("history record holds endpoints %+v, want port %d with its transcript", eps, port)
	}
	page := httptest.NewRecorder()
	f.history.ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/history?id="+strconv.FormatUint(records[0].ID, 10), nil))
	for _, want := range []string{"probe_smtp_cert_expiry_timestamp_seconds", "probe_tls_version_info", "C: STARTTLS", "S: 220"} {
		if !strings.Contains(page.Body.String(), want) {
			t.Errorf("/history transcript lacks %q", want)
		}
	}
}
