package collector

// Benchmarks that make per-probe costs visible: run them with
//
//	go test ./collector -run '^$' -bench . -benchmem
//
// The probe benchmarks talk to an in-process go-smtp server, so their
// ns/op and allocs/op include the server's side of the dialogue.
// BenchmarkBareSTARTTLS plays the same dialogue against the same server with
// nothing but crypto/tls and a bufio.Reader: the difference between it and
// BenchmarkProbeSTARTTLS is what the prober adds over the bare dialogue.
// bench/run.sh measures the same things against a real Postfix, with the
// CPU time of each process from the OS (docs/benchmarks.md).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// benchServers starts a STARTTLS, an implicit-TLS and a STARTTLS-required
// go-smtp server with a certificate for 127.0.0.1 from a fresh CA, and
// returns their ports and the CA file. Like Postfix with OpenSSL 3.0 they
// agree on X25519 (Go's client still computes its ML-KEM key share).
func benchServers(b *testing.B) (starttls, implicit, required int, caFile string) {
	b.Helper()
	ca := newTestCA(b)
	cfg := serverTLS(ca.issue(b, certSpec{names: []string{"127.0.0.1", "mx.test"}}))
	cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	starttls = goSMTPServer{tls: cfg}.start(b)
	implicit = goSMTPServer{tls: cfg, implicit: true}.start(b)
	required = goSMTPServer{tls: cfg}.start(b)
	return starttls, implicit, required, ca.writeFile(b)
}

// benchConfig is a configuration with module "one" (port 25 style STARTTLS
// on the first port) and module "three" (all three ports).
func benchConfig(b *testing.B, starttls, implicit, required int, caFile string) *config.Config {
	b.Helper()
	text := fmt.Sprintf(`modules:
  one:
    timeout: 5s
    ehlo_hostname: prober.example.net
    ports:
      - {port: %[1]d, tls: starttls}
    tls_config: {ca_file: %[4]s}
    expect: {verify_certificate: true}
  three:
    timeout: 5s
    ehlo_hostname: prober.example.net
    ports:
      - {port: %[1]d, tls: starttls}
      - {port: %[2]d, tls: implicit}
      - {port: %[3]d, tls: starttls, expect: {require_tls: true}}
    tls_config: {ca_file: %[4]s}
    expect: {verify_certificate: true}
`, starttls, implicit, required, caFile)
	cfg, err := config.Parse([]byte(text), b.TempDir())
	if err != nil {
		b.Fatalf("bench config: %v", err)
	}
	return cfg
}

// benchProbe runs one probe of target with module m as the handler does.
func benchProbe(b *testing.B, p *Prober, m *config.Module, target string) []*Result {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := ParseTarget(target)
	if err != nil {
		b.Fatal(err)
	}
	results := p.Probe(ctx, m, p.Endpoints(ctx, t, m))
	for _, r := range results {
		if !r.Success() {
			b.Fatalf("probe of %s port %d failed: %s: %v", target, r.Port, failureOf(r), r.Failure.Err)
		}
	}
	return results
}

// BenchmarkProbeSTARTTLS is one full probe of one STARTTLS port through
// Prober.Probe: connect, greeting, EHLO, STARTTLS, handshake, certificate
// checks, EHLO, QUIT.
func BenchmarkProbeSTARTTLS(b *testing.B) {
	port, implicit, required, caFile := benchServers(b)
	cfg := benchConfig(b, port, implicit, required, caFile)
	p := &Prober{Hostname: "prober.example.net"}
	target := fmt.Sprintf("127.0.0.1:%d", port)
	b.ReportAllocs()
	for b.Loop() {
		benchProbe(b, p, cfg.Modules["one"], target)
	}
}

// BenchmarkProbeThreePorts is one probe of three ports at once (STARTTLS,
// implicit TLS, STARTTLS required).
func BenchmarkProbeThreePorts(b *testing.B) {
	port, implicit, required, caFile := benchServers(b)
	cfg := benchConfig(b, port, implicit, required, caFile)
	p := &Prober{Hostname: "prober.example.net"}
	b.ReportAllocs()
	for b.Loop() {
		benchProbe(b, p, cfg.Modules["three"], "127.0.0.1")
	}
}

// BenchmarkBareSTARTTLS is the floor: the same dialogue against the same
// server, with crypto/tls verifying the certificate and nothing else.
func BenchmarkBareSTARTTLS(b *testing.B) {
	port, _, _, caFile := benchServers(b)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(benchReadFile(b, caFile))
	cfg := &tls.Config{ServerName: "127.0.0.1", RootCAs: pool}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	b.ReportAllocs()
	for b.Loop() {
		if err := bareSTARTTLS(addr, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReadFile(b *testing.B, path string) []byte {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// bareSTARTTLS plays greeting, EHLO, STARTTLS, handshake, EHLO, QUIT.
func bareSTARTTLS(addr string, cfg *tls.Config) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	step := func(w io.Writer, line string, want string) error {
		if line != "" {
			if _, err := io.WriteString(w, line+"\r\n"); err != nil {
				return err
			}
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(l, want) {
				return fmt.Errorf("after %q: %q", line, l)
			}
			if len(l) < 4 || l[3] != '-' {
				return nil
			}
		}
	}
	if err := step(conn, "", "220"); err != nil {
		return err
	}
	if err := step(conn, "EHLO prober.example.net", "250"); err != nil {
		return err
	}
	if err := step(conn, "STARTTLS", "220"); err != nil {
		return err
	}
	tc := tls.Client(conn, cfg)
	defer tc.Close() // close_notify, as a correct client (and the prober) sends
	if err := tc.Handshake(); err != nil {
		return err
	}
	r = bufio.NewReader(tc)
	if err := step(tc, "EHLO prober.example.net", "250"); err != nil {
		return err
	}
	return step(tc, "QUIT", "221")
}

// benchHandler is a probe handler wired as main wires it.
func benchHandler(b *testing.B, cfg *config.Config) *Handler {
	b.Helper()
	return NewHandler(HandlerOptions{
		Config:        func() *config.Config { return cfg },
		Prober:        &Prober{Hostname: "prober.example.net"},
		Metrics:       NewExporterMetrics(prometheus.NewRegistry()),
		History:       NewHistory(100, 16<<20),
		MaxConcurrent: 10,
	})
}

// prometheusScrapeHeaders are what a Prometheus server sends with a scrape.
var prometheusScrapeHeaders = map[string]string{
	"Accept":                              "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
	"Accept-Encoding":                     "gzip",
	"X-Prometheus-Scrape-Timeout-Seconds": "10",
}

// BenchmarkHandlerSTARTTLS is one /probe request of one STARTTLS port:
// parsing, the probe, the exporter's own metrics, history, the fresh
// registry and the encoding of the answer — plain text, and as Prometheus
// asks for it (gzip).
func BenchmarkHandlerSTARTTLS(b *testing.B) {
	port, implicit, required, caFile := benchServers(b)
	h := benchHandler(b, benchConfig(b, port, implicit, required, caFile))
	url := fmt.Sprintf("/probe?module=one&target=127.0.0.1:%d", port)
	for _, variant := range []struct {
		name    string
		headers map[string]string
	}{{"text", nil}, {"prometheus", prometheusScrapeHeaders}} {
		b.Run(variant.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, url, nil)
				for k, v := range variant.headers {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || (variant.headers == nil && !strings.Contains(rec.Body.String(), "probe_success 1")) {
					b.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// postfixEHLO is Postfix 3.7's EHLO reply under TLS, as the wire carries it.
const postfixEHLO = "250-localhost\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n" +
	"250-ETRN\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n" +
	"250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"

// BenchmarkReadReply reads one EHLO-sized reply.
func BenchmarkReadReply(b *testing.B) {
	src := strings.NewReader(postfixEHLO)
	r := bufio.NewReaderSize(src, maxLineBytes)
	b.ReportAllocs()
	b.SetBytes(int64(len(postfixEHLO)))
	for b.Loop() {
		src.Reset(postfixEHLO)
		r.Reset(src)
		if reply, err := readReply(r); err != nil || len(reply.Lines) != 11 {
			b.Fatalf("readReply: %v, %d lines", err, len(reply.Lines))
		}
	}
}

// BenchmarkParseEHLO turns an EHLO reply into extensions, as each EHLO of
// a probe does.
func BenchmarkParseEHLO(b *testing.B) {
	reply, err := readReply(bufio.NewReaderSize(strings.NewReader(postfixEHLO), maxLineBytes))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ext := parseEHLO(reply); !ext.Has("CHUNKING") {
			b.Fatal("CHUNKING not found")
		}
	}
}

// BenchmarkTranscript records a session's worth of transcript lines.
func BenchmarkTranscript(b *testing.B) {
	reply, err := readReply(bufio.NewReaderSize(strings.NewReader(postfixEHLO), maxLineBytes))
	if err != nil {
		b.Fatal(err)
	}
	greeting := Reply{Code: 220, Lines: []string{"localhost ESMTP Postfix"}}
	b.ReportAllocs()
	for b.Loop() {
		tr := newTranscript(time.Now())
		tr.notef("connecting to %s", "127.0.0.1:25")
		tr.reply(greeting)
		tr.add("C", "EHLO prober.example.net")
		tr.reply(reply)
		tr.add("C", "STARTTLS")
		tr.reply(Reply{Code: 220, Lines: []string{"2.0.0 Ready to start TLS"}})
		tr.notef("TLS established: %s, %s", "TLS 1.3", "TLS_AES_128_GCM_SHA256")
		tr.add("C", "EHLO prober.example.net")
		tr.reply(reply)
		tr.add("C", "QUIT")
		tr.reply(Reply{Code: 221, Lines: []string{"2.0.0 Bye"}})
	}
}

// BenchmarkMetricsEncode turns a finished 3-port probe into the answer:
// the series built and written straight to the text format or OpenMetrics
// (what the handler does), against metric families written by expfmt (the
// protobuf path, and what the handler did before).
func BenchmarkMetricsEncode(b *testing.B) {
	port, implicit, required, caFile := benchServers(b)
	cfg := benchConfig(b, port, implicit, required, caFile)
	p := &Prober{Hostname: "prober.example.net"}
	start := time.Now()
	results := benchProbe(b, p, cfg.Modules["three"], "127.0.0.1")
	duration := time.Since(start)

	for name, format := range map[string]expfmt.Format{"text": expfmt.FmtText, "openmetrics": expfmt.FmtOpenMetrics_1_0_0} {
		b.Run("build+"+name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = buildAnswer(results, duration, start).encode(buf[:0], formatOf(format)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes/answer")
		})
	}
	b.Run("build+gather+expfmt", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			families, _ := buildAnswer(results, duration, start).Gather()
			enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range families {
				if err := enc.Encode(mf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkTarpitInFlight holds 1,000 probes in flight through the handler
// against a server that accepts and never greets, and reports what each
// in-flight probe keeps alive once a GC has run: heap, goroutine stacks and
// goroutines. The net/http server's own per-connection cost (two 4 KiB
// buffers, a goroutine) comes on top in the real exporter. With
// SMTP_BENCH_HEAPPROFILE=FILE it writes a heap profile at that moment.
func BenchmarkTarpitInFlight(b *testing.B) {
	const inFlight = 1000
	port := scripted(b, func(c *scriptConn) { c.hear() })
	cfg, err := config.Parse([]byte(fmt.Sprintf(`modules:
  tarpit:
    timeout: 1s
    ports:
      - {port: %d, tls: starttls}
`, port)), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	h := NewHandler(HandlerOptions{
		Config:        func() *config.Config { return cfg },
		Prober:        &Prober{Hostname: "prober.example.net"},
		Metrics:       NewExporterMetrics(prometheus.NewRegistry()),
		History:       NewHistory(100, 16<<20),
		MaxConcurrent: inFlight,
	})
	url := fmt.Sprintf("/probe?module=tarpit&target=127.0.0.1:%d", port)
	var heap, stack, goroutines float64
	for b.Loop() {
		runtime.GC()
		var before, during runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		var wg sync.WaitGroup
		for range inFlight {
			wg.Go(func() {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, url, nil))
			})
		}
		for testutil.ToFloat64(h.opts.Metrics.inFlight) < inFlight {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // every session is waiting for its greeting
		runtime.GC()
		runtime.ReadMemStats(&during)
		goroutines = float64(runtime.NumGoroutine()-g0) / inFlight
		heap = float64(int64(during.HeapInuse)-int64(before.HeapInuse)) / inFlight
		stack = float64(int64(during.StackInuse)-int64(before.StackInuse)) / inFlight
		if path := os.Getenv("SMTP_BENCH_HEAPPROFILE"); path != "" {
			if f, err := os.Create(path); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		wg.Wait()
	}
	b.ReportMetric(heap, "heap-B/inflight")
	b.ReportMetric(stack, "stack-B/inflight")
	b.ReportMetric(goroutines, "goroutines/inflight")
}
