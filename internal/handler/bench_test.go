package handler

// Benchmarks of whole /probe requests against in-process go-smtp servers
// (their side of the dialogue included): run them with
//
//	go test ./internal/... -run '^$' -bench . -benchmem
//
// internal/probe's benchmarks measure the probe alone and the bare
// dialogue it is compared with (docs/benchmarks.md).

import (
	"fmt"
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

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// benchHandler is a probe handler wired as main wires it.
func benchHandler(b *testing.B, cfg *config.Config) *Handler {
	b.Helper()
	return New(Options{
		Config:        func() *config.Config { return cfg },
		Prober:        &probe.Prober{Hostname: "prober.example.net"},
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
	servers := smtptest.StartTLSServers(b)
	h := benchHandler(b, servers.Config(b))
	url := fmt.Sprintf("/probe?module=one&target=127.0.0.1:%d", servers.StartTLS)
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

// BenchmarkTarpitInFlight holds 1,000 probes in flight through the handler
// against a server that accepts and never greets, and reports what each
// in-flight probe keeps alive once a GC has run: heap, goroutine stacks and
// goroutines. The net/http server's own per-connection cost (two 4 KiB
// buffers, a goroutine) comes on top in the real exporter. With
// SMTP_BENCH_HEAPPROFILE=FILE it writes a heap profile at that moment.
func BenchmarkTarpitInFlight(b *testing.B) {
	const inFlight = 1000
	port := smtptest.Scripted(b, func(c *smtptest.ScriptConn) { c.Hear() })
	cfg, err := config.Parse([]byte(fmt.Sprintf(`modules:
  tarpit:
    timeout: 1s
    ports:
      - {port: %d, tls: starttls}
`, port)), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	h := benchHandler(b, cfg)
	h.slots = make(chan struct{}, inFlight)
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

// BenchmarkDomainFanOut compares, in one run, a probe of a mail domain
// with three MX hosts whose greetings come 10, 30 and 60 ms late with a
// probe of its slowest host alone, both through the handler and the same
// in-process DNS. The MX hosts are probed concurrently, so the domain
// should take little more than its slowest host: "ratio" is the domain's
// mean wall time over the slowest host's (docs/benchmarks.md's target is
// at most 1.3). The two probes alternate which goes first.
func BenchmarkDomainFanOut(b *testing.B) {
	delays := map[string]time.Duration{"127.0.0.1": 10 * time.Millisecond, "127.0.0.2": 30 * time.Millisecond, "127.0.0.3": 60 * time.Millisecond}
	f := newFleet(b, map[string]string{"127.0.0.1": "a.three.test", "127.0.0.2": "b.three.test", "127.0.0.3": "down.three.test"}, delays)
	srv := dnstest.NewServer(b, domainZone...)
	cfg := fmt.Sprintf(`modules:
  domain: {timeout: 5s, targets: mx, ports: [{port: %[1]d, tls: starttls}]}
  host: {timeout: 5s, ports: [{port: %[1]d, tls: starttls}]}
`, f.port)
	fx := newHandlerFixture(b, cfg, fixtureOptions{resolver: srv.Client(b, false)})
	probes := [2]string{probeQuery("three.test", "domain", false), probeQuery("down.three.test", "host", false)}
	var spent [2]time.Duration
	i := 0
	for b.Loop() {
		for k := range 2 {
			which := (i + k) % 2
			start := time.Now()
			rec := fx.probe(b.Context(), probes[which])
			spent[which] += time.Since(start)
			if !strings.Contains(rec.Body.String(), "probe_success 1") {
				b.Fatalf("%s: %s", probes[which], rec.Body.String())
			}
		}
		i++
	}
	b.ReportMetric(spent[0].Seconds()*1000/float64(i), "domain-ms/op")
	b.ReportMetric(spent[1].Seconds()*1000/float64(i), "slowest-ms/op")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "ratio")
}
