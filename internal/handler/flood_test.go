package handler

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// tarpit accepts connections and never says a word; it holds them, unread,
// until released, as a mail server stuck behind a full queue would.
type tarpit struct {
	ln       net.Listener
	accepted atomic.Int64
	done     chan struct{}

	mu   sync.Mutex
	held []net.Conn
}

func newTarpit(t *testing.T) *tarpit {
	t.Helper()
	tp := &tarpit{ln: smtptest.Listen(t), done: make(chan struct{})}
	go func() {
		defer close(tp.done)
		for {
			conn, err := tp.ln.Accept()
			if err != nil {
				return
			}
			tp.mu.Lock()
			tp.held = append(tp.held, conn)
			tp.mu.Unlock()
			tp.accepted.Add(1)
		}
	}()
	t.Cleanup(tp.close)
	return tp
}

func (tp *tarpit) port() int { return smtptest.PortOf(tp.ln.Addr()) }

// release closes every connection held so far.
func (tp *tarpit) release() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, c := range tp.held {
		c.Close()
	}
	tp.held = nil
}

func (tp *tarpit) close() {
	tp.ln.Close()
	<-tp.done
	tp.release()
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(entries)
}

// ensureFDs raises the soft descriptor limit to need when it is lower and
// reports whether need descriptors are available.
func ensureFDs(t *testing.T, need uint64) bool {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return false
	}
	if lim.Cur >= need {
		return true
	}
	old := lim.Cur
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < need {
		return false
	}
	t.Cleanup(func() {
		lim.Cur = old
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	})
	return true
}

// resourceCounts are goroutines and open descriptors at one moment.
type resourceCounts struct{ goroutines, fds int }

func countResources(t *testing.T) resourceCounts {
	return resourceCounts{runtime.NumGoroutine(), openFDs(t)}
}

// settle waits up to 3 s for goroutines and descriptors to come back to
// base, closing idle client connections and the tarpit's held ones, fails
// unless they are within a small tolerance of it, and returns the last counts.
func settle(t *testing.T, base resourceCounts, client *http.Client, tp *tarpit) resourceCounts {
	t.Helper()
	const tolerance = 5
	var now resourceCounts
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		client.CloseIdleConnections()
		tp.release()
		if now = countResources(t); now.goroutines <= base.goroutines && now.fds <= base.fds {
			return now
		}
	}
	if now.goroutines > base.goroutines+tolerance || now.fds > base.fds+tolerance {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d, descriptors %d: not back to the baseline %d, %d (± %d) 3 s after the flood\n%s",
			now.goroutines, now.fds, base.goroutines, base.fds, tolerance, buf[:runtime.Stack(buf, true)])
	}
	return now
}

// floodAnswer is what one client saw.
type floodAnswer struct {
	status int
	took   time.Duration
	body   string
	err    error
}

// flood fires n probe requests at once at url, each with the scrape
// timeout header, and returns the answers.
func flood(client *http.Client, url, header string, n int) []floodAnswer {
	answers := make([]floodAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set(scrapeTimeoutHeader, header)
			<-start
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				answers[i] = floodAnswer{err: err, took: time.Since(t0)}
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i] = floodAnswer{status: resp.StatusCode, took: time.Since(t0), body: string(body), err: err}
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// raceEnabled reports whether the test binary runs under the race detector.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// cpuSample is the machine's and this process's CPU time, in clock ticks.
type cpuSample struct{ total, idle, self int64 }

func sampleCPU() (cpuSample, bool) {
	var c cpuSample
	stat, err1 := os.ReadFile("/proc/stat")
	self, err2 := os.ReadFile("/proc/self/stat")
	if err1 != nil || err2 != nil {
		return c, false
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	for i, field := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(field, 10, 64)
		c.total += v
		if i == 3 || i == 4 { // idle, iowait
			c.idle += v
		}
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th.
	_, rest, _ := strings.Cut(string(self), ") ")
	fields := strings.Fields(rest)
	for _, f := range fields[11:13] {
		v, _ := strconv.ParseInt(f, 10, 64)
		c.self += v
	}
	return c, true
}

// foreignLoad returns the share of the machine's CPU time between a and b
// that other processes used.
func foreignLoad(a, b cpuSample) float64 {
	total := b.total - a.total
	if total <= 0 {
		return 0
	}
	busy := total - (b.idle - a.idle)
	return float64(busy-(b.self-a.self)) / float64(total)
}

// floodBound is how long a flood's probe answers may take: the budget +
// 250 ms, or three budgets under the race detector (see TestFloodTarpit).
func floodBound(t *testing.T, budget time.Duration) time.Duration {
	if !raceEnabled() {
		return budget + answerSlack
	}
	t.Logf("race detector on: probe answers must come within 3 budgets, not the budget + %s (see TestFloodTarpit)", answerSlack)
	return 3 * budget
}

// warm opens n keep-alive connections from client to srv and leaves them
// idle in the client's pool, as Prometheus keeps its scrape connections:
// the flood then measures the exporter, not n simultaneous dials.
func warm(t *testing.T, client *http.Client, url string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := client.Get(url)
			if err != nil {
				t.Errorf("warming up: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
}

// barrier answers 204 once n requests are waiting, so that each holds its
// own connection.
func barrier(n int) http.Handler {
	var mu sync.Mutex
	arrived, all := 0, make(chan struct{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// TestFloodTarpit fires hundreds of concurrent probes at a server that
// never greets: every answer must arrive within its budget, and afterwards
// no goroutine or descriptor may be left behind.
//
// The budget + 250 ms bound is asserted on the exporter's side, from the
// request reaching the handler to the answer written. The client, in this
// same process, shares the two CPUs with the exporter: it reads 300
// answers at the same instant, and its measure ran 60–300 ms past the
// handler's when other jobs loaded the machine; it gets another 250 ms.
// When other processes took over a fifth of the CPUs during the flood
// (go test ./... runs packages in parallel), lateness is logged, not failed.
//
// Under the race detector the flood is 100 probes, every answer must still
// come and nothing may leak, but the budget + 250 ms bound is not asserted:
// all sessions end at the same instant, and the race-instrumented work that
// follows (closing, gathering, encoding and gzipping every answer, on a
// 2-core machine) takes ~5 ms of CPU per probe, against ~0.3 ms without
// the detector: 300 answers came 1.2–1.9 s late, and even 50 overran the
// 250 ms by up to 100 ms. TestHostileServers keeps the bound under -race.
func TestFloodTarpit(t *testing.T) {
	const (
		probes  = 300
		header  = "1.5" // less the fixture's 0.5 s offset: a 1 s budget
		budget  = time.Second
		perConn = 4 // HTTP client and server ends, SMTP client and tarpit ends
	)
	n := probes
	if raceEnabled() {
		n = 100
		t.Logf("race detector on: flooding with %d probes, not %d", n, probes)
	}
	if !ensureFDs(t, uint64(probes*perConn+256)) {
		var lim syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		n = max(10, int(lim.Cur-256)/perConn)
		t.Logf("descriptor limit %d is too low for %d probes: flooding with %d", lim.Cur, probes, n)
	}
	bound := floodBound(t, budget)
	tp := newTarpit(t)
	f := newHandlerFixture(t, oneModule("10s", config.TLSStartTLS, tp.port()), fixtureOptions{maxConcurrent: 1000})
	// The exporter's own share of each answer: from the request reaching
	// the handler to the response written.
	var serveMu sync.Mutex
	var serveSlowest time.Duration
	serveLate := 0
	mux := http.NewServeMux()
	mux.Handle("/probe", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		f.handler.ServeHTTP(w, r)
		took := time.Since(start)
		serveMu.Lock()
		serveSlowest = max(serveSlowest, took)
		if took > bound {
			serveLate++
		}
		serveMu.Unlock()
	}))
	mux.Handle("/warm", barrier(n))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	url := srv.URL + "/probe?" + probeQuery(loopbackTarget(tp.port()), "", false)

	base := countResources(t)
	warm(t, client, srv.URL+"/warm", n)
	cpuBefore, cpuOK := sampleCPU()
	var during resourceCounts
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for deadline := time.Now().Add(900 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if tp.accepted.Load() >= int64(n) {
				break
			}
		}
		during = countResources(t)
	}()
	answers := flood(client, url, header, n)
	<-sampled
	cpuAfter, _ := sampleCPU()
	excused := false
	if load := foreignLoad(cpuBefore, cpuAfter); cpuOK && load > 0.2 {
		excused = true
		// The bound is the exporter's promise given the machine's CPUs, not
		// while other jobs (go test ./... runs packages in parallel) take them.
		t.Logf("other processes took %.0f%% of the CPUs during the flood: late answers are not counted as failures", 100*load)
	}

	var slowest time.Duration
	late, failed := 0, 0
	for i, a := range answers {
		slowest = max(slowest, a.took)
		switch {
		case a.err != nil || a.status != http.StatusOK:
			if failed++; failed <= 5 {
				t.Errorf("probe %d: status %d, error %v; body %q", i, a.status, a.err, a.body)
			}
		case a.took > bound+answerSlack:
			late++
		}
	}
	t.Logf("%d probes: slowest answer %s = %.3f of the %s budget at the client, %s = %.3f in the handler",
		n, slowest, slowest.Seconds()/budget.Seconds(), budget, serveSlowest, serveSlowest.Seconds()/budget.Seconds())
	if excused {
		serveLate, late = 0, 0
	}
	if serveLate > 0 {
		t.Errorf("%d of %d answers left the handler after %s", serveLate, n, bound)
	}
	if late > 0 || failed > 0 {
		t.Errorf("%d of %d answers reached the client after %s, %d failed", late, n, bound+answerSlack, failed)
	}
	if t.Failed() {
		t.FailNow()
	}
	if got := tp.accepted.Load(); got != int64(n) {
		t.Errorf("the tarpit accepted %d connections, want %d", got, n)
	}
	for i, a := range answers {
		s := parseExposition(t, a.body)
		s.want(t, 0, "probe_success")
		s.want(t, 1, "probe_smtp_failure_info", "phase", "banner", "reason", "timeout")
		if t.Failed() {
			t.Fatalf("probe %d answered:\n%s", i, a.body)
		}
	}
	if got := testutil.ToFloat64(f.metrics.probes.WithLabelValues("default", "failure")); got != float64(n) {
		t.Errorf("smtp_exporter_probes_total{result=failure} = %v, want %d", got, n)
	}
	if got := f.requestErrors()["overloaded"]; got != 0 {
		t.Errorf("%v probes refused as overloaded under a limit of 1000", got)
	}

	after := settle(t, base, client, tp)
	t.Logf("goroutines: %d before, %d during, %d after; descriptors: %d before, %d during, %d after",
		base.goroutines, during.goroutines, after.goroutines, base.fds, during.fds, after.fds)
	if during.goroutines < base.goroutines+n || during.fds < base.fds+2*n {
		t.Errorf("the flood was not in flight at once: %+v during, %+v before", during, base)
	}
	if got := testutil.ToFloat64(f.metrics.inFlight); got != 0 {
		t.Errorf("smtp_exporter_probes_in_flight = %v after the flood, want 0", got)
	}
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// TestFloodOverloaded sends more probes than --probe.max-concurrent allows:
// the excess is answered at once with 503 and counted.
func TestFloodOverloaded(t *testing.T) {
	const (
		limit    = 50
		requests = 120
		header   = "1.5"
		budget   = time.Second
		quick    = 200 * time.Millisecond
	)
	tp := newTarpit(t)
	f := newHandlerFixture(t, oneModule("10s", config.TLSStartTLS, tp.port()), fixtureOptions{maxConcurrent: limit})
	// Arrival and completion times on the server, to tell whether every
	// request arrived before the first slot was freed.
	var mu sync.Mutex
	var lastArrival, firstDone time.Time
	warmed := barrier(requests)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warm" {
			warmed.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		if now := time.Now(); now.After(lastArrival) {
			lastArrival = now
		}
		mu.Unlock()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		f.handler.ServeHTTP(sw, r)
		mu.Lock()
		if now := time.Now(); sw.status == http.StatusOK && (firstDone.IsZero() || now.Before(firstDone)) {
			firstDone = now
		}
		mu.Unlock()
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: requests}}
	defer client.CloseIdleConnections()
	url := srv.URL + "/probe?" + probeQuery(loopbackTarget(tp.port()), "", false)

	bound := floodBound(t, budget)
	base := countResources(t)
	warm(t, client, srv.URL+"/warm", requests)
	answers := flood(client, url, header, requests)

	var ok, refused int
	var slowest, slowestRefusal time.Duration
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("request %d: %v", i, a.err)
		case a.status == http.StatusOK:
			ok++
			slowest = max(slowest, a.took)
			if a.took > bound {
				t.Errorf("request %d: answer took %s, want at most %s", i, a.took, bound)
			}
		case a.status == http.StatusServiceUnavailable:
			refused++
			slowestRefusal = max(slowestRefusal, a.took)
			if a.took > quick {
				t.Errorf("request %d: 503 took %s, want under %s", i, a.took, quick)
			}
		default:
			t.Errorf("request %d: status %d; body %q", i, a.status, a.body)
		}
	}
	t.Logf("%d requests, limit %d: %d probed (slowest %s = %.3f of the budget), %d refused (slowest 503 %s)",
		requests, limit, ok, slowest, slowest.Seconds()/budget.Seconds(), refused, slowestRefusal)
	if ok+refused != requests || refused == 0 || ok < limit {
		t.Errorf("%d answered 200 and %d 503, want %d in all, every slot used and the rest refused", ok, refused, requests)
	}
	if lastArrival.Before(firstDone.Add(-50 * time.Millisecond)) {
		// Every request arrived while the first 50 held their slots.
		if ok != limit || refused != requests-limit {
			t.Errorf("%d answered 200 and %d 503, want exactly %d and %d", ok, refused, limit, requests-limit)
		}
	} else {
		t.Logf("some requests arrived after a slot was freed: not checking the exact split")
	}
	if got := f.requestErrors()["overloaded"]; got != float64(refused) {
		t.Errorf("smtp_exporter_request_errors_total{reason=overloaded} = %v, want %d", got, refused)
	}
	if got := tp.accepted.Load(); got != int64(ok) {
		t.Errorf("the tarpit accepted %d connections for %d probes: refused requests must not dial", got, ok)
	}
	after := settle(t, base, client, tp)
	t.Logf("goroutines: %d before, %d after; descriptors: %d before, %d after", base.goroutines, after.goroutines, base.fds, after.fds)
}
