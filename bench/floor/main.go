// Command floor is the measuring side of bench/run.sh. Its modes:
//
//	floor     the bare SMTP dialogue in a loop (greeting, EHLO, STARTTLS,
//	          TLS handshake, EHLO, QUIT): no HTTP, no metrics — the floor
//	          an exporter's CPU per probe is compared with
//	serve     the bare dialogue behind net/http: GET /probe runs one session
//	          and answers "probe_success 1" — what HTTP alone adds to the
//	          floor, measured with load like an exporter
//	load      a fixed number of HTTP GETs at fixed concurrency against an
//	          exporter's /probe, charging the exporter process's CPU time
//	          (utime+stime from /proc/PID/stat) to the probes
//	inflight  a tarpit that accepts and never greets, and n probes of it in
//	          flight at once, sampling the exporter's RSS and goroutines
//	get       one HTTP GET, retried until it answers 200 (start-up waits)
//	capacity  sustained probes per second per core and memory per session
//	          in flight, for host targets and MX domains, against its own
//	          MTA, tarpit and DNS on loopback, and an HA pair's sessions
//	          per target per interval with share_window on and off; prints
//	          the sizing table of docs/benchmarks.md (bench/capacity.sh)
//	report    the table, the ratios and PASS/FAIL from the JSON lines the
//	          other modes appended to a results file
//
// Every mode but report appends one JSON object per run to -out. It talks
// to loopback addresses only, and every loop is bounded in count and time.
package main

import (
	"bufio"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floor floor|serve|load|inflight|get|report|capacity [flags]")
		os.Exit(2)
	}
	var err error
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "floor":
		err = runFloor(args)
	case "serve":
		err = runServe(args)
	case "load":
		err = runLoad(args)
	case "inflight":
		err = runInflight(args)
	case "report":
		err = runReport(args)
	case "get":
		err = runGet(args)
	case "capacity":
		err = runCapacity(args)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// record is one measured run; report reads them back.
type record struct {
	Kind     string  `json:"kind"`   // throughput, scrape, inflight
	System   string  `json:"system"` // smtp_exporter, blackbox_exporter, floor; or the scrape variant
	Round    int     `json:"round"`
	N        int     `json:"n"`
	C        int     `json:"c"`
	Fail     int     `json:"fail"`
	WallS    float64 `json:"wall_s"`
	CPUS     float64 `json:"cpu_s"`
	CPUMs    float64 `json:"cpu_ms_per_probe"`
	Rate     float64 `json:"probes_per_s"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	TLS      string  `json:"tls,omitempty"`
	FirstErr string  `json:"first_err,omitempty"`

	// inflight only
	InFlightPeak    int     `json:"in_flight_peak,omitempty"`
	GoroutinesIdle  int     `json:"goroutines_idle,omitempty"`
	GoroutinesPeak  int     `json:"goroutines_peak,omitempty"`
	GoroutinesAfter int     `json:"goroutines_after,omitempty"`
	RSSIdleMiB      float64 `json:"rss_idle_mib,omitempty"`
	RSSPeakMiB      float64 `json:"rss_peak_mib,omitempty"`
	HWMMiB          float64 `json:"vm_hwm_mib,omitempty"`
	Status200       int     `json:"status_200,omitempty"`
	StatusOther     int     `json:"status_other,omitempty"`
	ProbeSuccess0   int     `json:"probe_success_0,omitempty"`
	MaxMs           float64 `json:"max_ms,omitempty"`
	HeapInuseMiB    float64 `json:"heap_inuse_mib,omitempty"`
	StackInuseMiB   float64 `json:"stack_inuse_mib,omitempty"`
	GoSysMiB        float64 `json:"go_sys_mib,omitempty"`
	NextGCMiB       float64 `json:"next_gc_mib,omitempty"`
	RSSWaitingMiB   float64 `json:"rss_waiting_mib,omitempty"`
	HeapWaitingMiB  float64 `json:"heap_waiting_mib,omitempty"`
}

func appendRecord(path string, r record) error { return appendJSON(path, r) }

// appendJSON prints v as one JSON line and appends it to path, if any.
func appendJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// cpuSeconds returns utime+stime of process pid ("self" for this one) from
// /proc/PID/stat, in seconds.
func cpuSeconds(pid string, clkTck float64) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'. Then state is field 3; utime and stime are 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (utime + stime) / clkTck, nil
}

// runLoop runs n jobs at concurrency c and returns their latencies, the
// failures and the first error.
func runLoop(n, c int, job func() error) (lat []time.Duration, fails int, first error, wall time.Duration) {
	lat = make([]time.Duration, n)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				err := job()
				lat[i] = time.Since(t)
				if err != nil {
					mu.Lock()
					fails++
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return lat, fails, first, time.Since(start)
}

func percentile(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}

func fill(r *record, lat []time.Duration, fails int, first error, wall time.Duration, cpu float64) {
	r.N, r.Fail, r.WallS, r.CPUS = len(lat), fails, wall.Seconds(), cpu
	r.CPUMs = cpu * 1000 / float64(len(lat))
	r.Rate = float64(len(lat)) / wall.Seconds()
	r.P50Ms, r.P99Ms = percentile(lat, 0.50), percentile(lat, 0.99)
	if first != nil {
		r.FirstErr = first.Error()
	}
}

// ---- floor ----------------------------------------------------------------

type floorClient struct {
	addr, ehlo, caFile string
	tls                *tls.Config
	timeout            time.Duration
}

// session plays greeting, EHLO, STARTTLS, handshake, EHLO, QUIT and returns
// the TLS state.
func (f *floorClient) session() (tls.ConnectionState, error) {
	var st tls.ConnectionState
	conn, err := net.DialTimeout("tcp", f.addr, f.timeout)
	if err != nil {
		return st, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(f.timeout))
	r := bufio.NewReader(conn)
	if _, err := reply(r, 220, ""); err != nil {
		return st, fmt.Errorf("greeting: %w", err)
	}
	if err := command(conn, r, "EHLO "+f.ehlo, 250, "STARTTLS"); err != nil {
		return st, err
	}
	if err := command(conn, r, "STARTTLS", 220, ""); err != nil {
		return st, err
	}
	tc := tls.Client(conn, f.tls)
	// A correct client ends TLS with close_notify (RFC 8446 6.1), as
	// net/smtp and the exporter do: closing tc sends it, then closes conn.
	defer tc.Close()
	if err := tc.Handshake(); err != nil {
		return st, err
	}
	r = bufio.NewReader(tc)
	if err := command(tc, r, "EHLO "+f.ehlo, 250, ""); err != nil {
		return st, err
	}
	if err := command(tc, r, "QUIT", 221, ""); err != nil {
		return st, err
	}
	return tc.ConnectionState(), nil
}

func command(w io.Writer, r *bufio.Reader, line string, want int, must string) error {
	if _, err := io.WriteString(w, line+"\r\n"); err != nil {
		return err
	}
	if _, err := reply(r, want, must); err != nil {
		return fmt.Errorf("%s: %w", strings.Fields(line)[0], err)
	}
	return nil
}

// reply reads one SMTP reply, wants code want and, when must is set, a
// line whose text starts with must.
func reply(r *bufio.Reader, want int, must string) (string, error) {
	found := must == ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 || line[:3] != strconv.Itoa(want) {
			return "", fmt.Errorf("unexpected reply %q", line)
		}
		if len(line) > 4 && strings.HasPrefix(line[4:], must) {
			found = true
		}
		if len(line) == 3 || line[3] == ' ' {
			if !found {
				return "", fmt.Errorf("%s not offered", must)
			}
			return line, nil
		}
	}
}

func runFloor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	fc := floorFlags(fs)
	n := fs.Int("n", 300, "sessions to measure")
	c := fs.Int("c", 4, "sessions at once")
	warmup := fs.Int("warmup", 20, "sessions before measuring")
	round := fs.Int("round", 0, "round number, for the record")
	clk := fs.Float64("clktck", 100, "clock ticks per second (getconf CLK_TCK)")
	out := fs.String("out", "", "append the JSON record to this file")
	fs.Parse(args)
	if err := fc.setUp(); err != nil {
		return err
	}
	st, err := fc.session()
	if err != nil {
		return fmt.Errorf("first session: %w", err)
	}
	runLoop(*warmup, *c, func() error { _, err := fc.session(); return err })

	before, err := cpuSeconds("self", *clk)
	if err != nil {
		return err
	}
	lat, fails, first, wall := runLoop(*n, *c, func() error { _, err := fc.session(); return err })
	after, err := cpuSeconds("self", *clk)
	if err != nil {
		return err
	}
	r := record{Kind: "throughput", System: "floor", Round: *round, C: *c,
		TLS: fmt.Sprintf("%s, %s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)}
	fill(&r, lat, fails, first, wall, after-before)
	return appendRecord(*out, r)
}

// floorFlags declares the dialogue's flags on fs; setUp reads the CA.
func floorFlags(fs *flag.FlagSet) *floorClient {
	fc := &floorClient{timeout: 10 * time.Second}
	fs.StringVar(&fc.addr, "addr", "127.0.0.1:25", "SMTP server offering STARTTLS")
	fs.StringVar(&fc.caFile, "ca", "", "CA file to verify the server with (empty: the system roots)")
	fs.StringVar(&fc.ehlo, "ehlo", "bench.example.net", "EHLO name")
	return fc
}

func (fc *floorClient) setUp() error {
	host, _, err := net.SplitHostPort(fc.addr)
	if err != nil {
		return err
	}
	fc.tls = &tls.Config{ServerName: host}
	if fc.caFile != "" {
		pem, err := os.ReadFile(fc.caFile)
		if err != nil {
			return err
		}
		fc.tls.RootCAs = x509.NewCertPool()
		if !fc.tls.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", fc.caFile)
		}
	}
	return nil
}

// runServe answers GET /probe with one bare dialogue, as plain net/http:
// the smallest exporter there can be.
func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	fc := floorFlags(fs)
	listen := fs.String("listen", "127.0.0.1:19589", "HTTP address")
	fs.Parse(args)
	if err := fc.setUp(); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		success := "1"
		if _, err := fc.session(); err != nil {
			success = "0"
		}
		io.WriteString(w, "probe_success "+success+"\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// ---- load -----------------------------------------------------------------

func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "probe URL")
	pid := fs.String("pid", "", "exporter process whose CPU time is charged to the probes")
	system := fs.String("system", "", "name for the record")
	kind := fs.String("kind", "throughput", "kind for the record")
	n := fs.Int("n", 300, "probes to measure")
	c := fs.Int("c", 4, "probes at once")
	warmup := fs.Int("warmup", 20, "probes before measuring")
	expect := fs.String("expect", "probe_success 1", "a probe fails unless its body holds this")
	round := fs.Int("round", 0, "round number, for the record")
	clk := fs.Float64("clktck", 100, "clock ticks per second (getconf CLK_TCK)")
	out := fs.String("out", "", "append the JSON record to this file")
	asPrometheus := prometheusFlag(fs)
	fs.Parse(args)
	if *url == "" || *pid == "" {
		return errors.New("load needs -url and -pid")
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: true},
	}
	get := func() error {
		status, body, err := fetch(client, *url, *asPrometheus)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
		}
		if !strings.Contains(string(body), *expect) {
			return fmt.Errorf("body lacks %q", *expect)
		}
		return nil
	}
	if err := get(); err != nil {
		return fmt.Errorf("first probe of %s: %w", *url, err)
	}
	runLoop(*warmup, *c, get)
	before, err := cpuSeconds(*pid, *clk)
	if err != nil {
		return err
	}
	lat, fails, first, wall := runLoop(*n, *c, get)
	after, err := cpuSeconds(*pid, *clk)
	if err != nil {
		return err
	}
	r := record{Kind: *kind, System: *system, Round: *round, C: *c}
	fill(&r, lat, fails, first, wall, after-before)
	return appendRecord(*out, r)
}

// prometheusHeaders are what a Prometheus 2.x server sends with a scrape
// (scrape_timeout 10s, compression on): both exporters answer them with
// gzip-compressed text, as they would in production.
var prometheusHeaders = map[string]string{
	"Accept":                              "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
	"Accept-Encoding":                     "gzip",
	"X-Prometheus-Scrape-Timeout-Seconds": "10",
}

// prometheusFlag declares -prometheus on fs.
func prometheusFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("prometheus", true, "send Prometheus's scrape headers (Accept, Accept-Encoding: gzip, scrape timeout)")
}

// fetch GETs url, with Prometheus's scrape headers when asPrometheus, and
// returns the status and the body, gunzipped if it came compressed.
func fetch(client *http.Client, url string, asPrometheus bool) (status int, body []byte, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if asPrometheus {
		for k, v := range prometheusHeaders {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if rd, err = gzip.NewReader(resp.Body); err != nil {
			return resp.StatusCode, nil, err
		}
	}
	body, err = io.ReadAll(rd)
	return resp.StatusCode, body, err
}

// ---- inflight -------------------------------------------------------------

// tarpit accepts connections and never says a word.
func tarpit(addr string) (net.Listener, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln, func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}, nil
}

// procStatusKiB returns VmRSS and VmHWM of pid in KiB.
func procStatusKiB(pid string) (rss, hwm float64) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		x, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			rss = x
		case "VmHWM":
			hwm = x
		}
	}
	return rss, hwm
}

// gauges reads the unlabelled samples of a /metrics page: go_goroutines,
// smtp_exporter_probes_in_flight, go_memstats_* …
func gauges(client *http.Client, url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := client.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = x
		}
	}
	return out
}

func runInflight(args []string) error {
	fs := flag.NewFlagSet("inflight", flag.ExitOnError)
	exporter := fs.String("exporter", "http://127.0.0.1:19588", "exporter base URL")
	pid := fs.String("pid", "", "exporter process")
	tarpitAddr := fs.String("tarpit", "127.0.0.1:19025", "where the tarpit listens")
	module := fs.String("module", "tarpit", "exporter module for the tarpit")
	n := fs.Int("n", 1000, "probes in flight at once")
	out := fs.String("out", "", "append the JSON record to this file")
	asPrometheus := prometheusFlag(fs)
	fs.Parse(args)
	if *pid == "" {
		return errors.New("inflight needs -pid")
	}
	ln, stop, err := tarpit(*tarpitAddr)
	if err != nil {
		return err
	}
	defer stop()
	metricsClient := &http.Client{Timeout: 5 * time.Second}
	metricsURL := *exporter + "/metrics"
	r := record{Kind: "inflight", System: "smtp_exporter", N: *n, C: *n}
	r.GoroutinesIdle = int(gauges(metricsClient, metricsURL)["go_goroutines"])
	rss, _ := procStatusKiB(*pid)
	r.RSSIdleMiB = rss / 1024

	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *n, DisableCompression: true, DisableKeepAlives: true,
		},
	}
	probeURL := fmt.Sprintf("%s/probe?module=%s&target=%s", *exporter, *module, ln.Addr())
	var done atomic.Bool
	var answered atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for !done.Load() {
			g := gauges(metricsClient, metricsURL)
			rss, _ := procStatusKiB(*pid)
			r.GoroutinesPeak = max(r.GoroutinesPeak, int(g["go_goroutines"]))
			r.InFlightPeak = max(r.InFlightPeak, int(g["smtp_exporter_probes_in_flight"]))
			if answered.Load() == 0 {
				r.RSSWaitingMiB = max(r.RSSWaitingMiB, rss/1024)
				r.HeapWaitingMiB = max(r.HeapWaitingMiB, g["go_memstats_heap_inuse_bytes"]/(1<<20))
			}
			if rss/1024 > r.RSSPeakMiB {
				// The Go runtime's view at the RSS peak.
				r.RSSPeakMiB = rss / 1024
				r.HeapInuseMiB = g["go_memstats_heap_inuse_bytes"] / (1 << 20)
				r.StackInuseMiB = g["go_memstats_stack_inuse_bytes"] / (1 << 20)
				r.GoSysMiB = g["go_memstats_sys_bytes"] / (1 << 20)
				r.NextGCMiB = g["go_memstats_next_gc_bytes"] / (1 << 20)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range *n {
		wg.Go(func() {
			t := time.Now()
			status, body, err := fetch(client, probeURL, *asPrometheus)
			took := time.Since(t)
			answered.Add(1)
			mu.Lock()
			defer mu.Unlock()
			r.MaxMs = max(r.MaxMs, float64(took.Microseconds())/1000)
			switch {
			case err != nil:
				r.StatusOther++
				if r.FirstErr == "" {
					r.FirstErr = err.Error()
				}
			case status != http.StatusOK:
				r.StatusOther++
				if r.FirstErr == "" {
					r.FirstErr = fmt.Sprintf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
				}
			default:
				r.Status200++
				if strings.Contains(string(body), "probe_success 0") {
					r.ProbeSuccess0++
				}
			}
		})
	}
	wg.Wait()
	r.WallS = time.Since(start).Seconds()
	done.Store(true)
	<-sampled
	stop()
	// Goroutines that outlive their session show up here.
	time.Sleep(2 * time.Second)
	r.GoroutinesAfter = int(gauges(metricsClient, metricsURL)["go_goroutines"])
	_, hwm := procStatusKiB(*pid)
	r.HWMMiB = hwm / 1024
	return appendRecord(*out, r)
}

// ---- get ------------------------------------------------------------------

func runGet(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	url := fs.String("url", "", "URL")
	wait := fs.Duration("wait", 10*time.Second, "retry until a 200 for this long")
	quiet := fs.Bool("q", false, "do not print the body")
	fs.Parse(args)
	client := &http.Client{Timeout: 15 * time.Second}
	deadline := time.Now().Add(*wait)
	for {
		status, body, err := fetch(client, *url, false)
		if err == nil {
			if status == http.StatusOK {
				if !*quiet {
					os.Stdout.Write(body)
				}
				return nil
			}
			err = fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", *url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---- report ---------------------------------------------------------------

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	inFile := fs.String("in", "", "results file (JSON lines)")
	fs.Parse(args)
	f, err := os.Open(*inFile)
	if err != nil {
		return err
	}
	defer f.Close()
	var recs []record
	dec := json.NewDecoder(f)
	for {
		var r record
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	pick := func(kind, system string, field func(record) float64) []float64 {
		var xs []float64
		for _, r := range recs {
			if r.Kind == kind && r.System == system {
				xs = append(xs, field(r))
			}
		}
		return xs
	}
	cpu := func(r record) float64 { return r.CPUMs }
	sum := func(kind, system string, field func(record) float64) float64 {
		var s float64
		for _, x := range pick(kind, system, field) {
			s += x
		}
		return s
	}

	systems := []string{"smtp_exporter", "blackbox_exporter", "floor", "floor+http"}
	fmt.Println("STARTTLS probes of port 25 (greeting, EHLO, STARTTLS, TLS handshake, EHLO, QUIT); medians over rounds")
	fmt.Println("floor: the bare dialogue in a loop; floor+http: the same behind a plain net/http handler")
	fmt.Printf("%-18s %7s %7s %12s %10s %9s %9s %6s\n", "system", "rounds", "probes", "CPU ms/probe", "probes/s", "p50 ms", "p99 ms", "fails")
	med := map[string]float64{}
	for _, s := range systems {
		rounds := pick("throughput", s, cpu)
		if len(rounds) == 0 {
			continue
		}
		med[s] = median(rounds)
		fmt.Printf("%-18s %7d %7.0f %12.3f %10.1f %9.2f %9.2f %6.0f\n", s, len(rounds),
			sum("throughput", s, func(r record) float64 { return float64(r.N) }), med[s],
			median(pick("throughput", s, func(r record) float64 { return r.Rate })),
			median(pick("throughput", s, func(r record) float64 { return r.P50Ms })),
			median(pick("throughput", s, func(r record) float64 { return r.P99Ms })),
			sum("throughput", s, func(r record) float64 { return float64(r.Fail) }))
	}
	for _, r := range recs {
		if r.Kind == "throughput" && r.System == "floor" && r.TLS != "" {
			fmt.Printf("negotiated (floor client): %s\n", r.TLS)
			break
		}
	}
	for _, r := range recs {
		if r.FirstErr != "" {
			fmt.Printf("first error of %s/%s round %d: %s\n", r.Kind, r.System, r.Round, r.FirstErr)
		}
	}

	fmt.Println()
	fmt.Println("One scrape: wall time, median of per-round medians")
	slowest, slowestName := 0.0, ""
	var three float64
	for _, v := range []string{"port 25 (starttls)", "port 465 (implicit)", "port 587 (starttls, require_tls)", "3 ports"} {
		xs := pick("scrape", v, func(r record) float64 { return r.P50Ms })
		if len(xs) == 0 {
			continue
		}
		m := median(xs)
		fmt.Printf("  %-34s %8.2f ms\n", v, m)
		if v == "3 ports" {
			three = m
		} else if m > slowest {
			slowest, slowestName = m, v
		}
	}

	var in record
	for _, r := range recs {
		if r.Kind == "inflight" {
			in = r
		}
	}
	if in.N > 0 {
		fmt.Println()
		fmt.Printf("%d probes in flight against a tarpit (module budget), one run\n", in.N)
		fmt.Printf("  answers: %d × HTTP 200 (%d with probe_success 0), %d other; slowest %.0f ms; all done in %.1f s\n",
			in.Status200, in.ProbeSuccess0, in.StatusOther, in.MaxMs, in.WallS)
		fmt.Printf("  smtp_exporter_probes_in_flight peak: %d\n", in.InFlightPeak)
		fmt.Printf("  RSS: idle %.1f MiB, peak sampled %.1f MiB, VmHWM %.1f MiB\n", in.RSSIdleMiB, in.RSSPeakMiB, in.HWMMiB)
		fmt.Printf("  while all %d wait for a greeting: RSS %.1f MiB, Go heap in use %.1f MiB\n", in.N, in.RSSWaitingMiB, in.HeapWaitingMiB)
		fmt.Printf("  Go runtime at the RSS peak: heap in use %.1f MiB, stacks %.1f MiB, next GC at %.1f MiB, from the OS %.1f MiB\n",
			in.HeapInuseMiB, in.StackInuseMiB, in.NextGCMiB, in.GoSysMiB)
		fmt.Printf("  goroutines: idle %d, peak %d, 2 s after the last answer %d\n", in.GoroutinesIdle, in.GoroutinesPeak, in.GoroutinesAfter)
	}

	fmt.Println()
	fmt.Println("Targets")
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	failed := false
	check := func(what string, ratio, limit float64, unit string, have bool) {
		if !have {
			fmt.Printf("  %-52s   n/a\n", what)
			return
		}
		ok := ratio <= limit
		failed = failed || !ok
		fmt.Printf("  %-52s %7.2f%s (≤ %.2f%s)  %s\n", what, ratio, unit, limit, unit, verdict(ok))
	}
	// CPU ratios are medians of per-round ratios: the systems of a round
	// run minutes apart at most, so what the machine does meanwhile
	// (other guests, its own load) weighs on both sides of each ratio.
	roundRatio := func(a, b string) (float64, bool) {
		byRound := map[int]map[string]float64{}
		for _, r := range recs {
			if r.Kind == "throughput" {
				if byRound[r.Round] == nil {
					byRound[r.Round] = map[string]float64{}
				}
				byRound[r.Round][r.System] = r.CPUMs
			}
		}
		var ratios []float64
		for _, m := range byRound {
			if m[a] > 0 && m[b] > 0 {
				ratios = append(ratios, m[a]/m[b])
			}
		}
		return median(ratios), len(ratios) > 0
	}
	bb, haveBB := roundRatio("smtp_exporter", "blackbox_exporter")
	fl, haveFl := roundRatio("smtp_exporter", "floor")
	check("CPU/probe smtp_exporter ÷ blackbox_exporter", bb, 0.6, "", haveBB)
	check("CPU/probe smtp_exporter ÷ bare dialogue", fl, 1.25, "", haveFl)
	check("scrape of 3 ports ÷ slowest single port ("+strings.Fields(slowestName + " ?")[1]+")", three/slowest, 1.3, "", slowest > 0 && three > 0)
	check(fmt.Sprintf("peak RSS, %d probes in flight (VmHWM)", in.N), in.HWMMiB, 64, " MiB", in.N > 0)
	if failed {
		fmt.Println("  (at least one target missed)")
	}
	httpOnly, haveHTTP := roundRatio("floor+http", "floor")
	ours, haveOurs := roundRatio("smtp_exporter", "floor+http")
	if haveHTTP && haveOurs {
		fmt.Println("Where the gap to the bare dialogue is (no targets)")
		fmt.Printf("  %-52s %7.2f\n", "CPU/probe bare dialogue + net/http ÷ bare dialogue", httpOnly)
		fmt.Printf("  %-52s %7.2f\n", "CPU/probe smtp_exporter ÷ bare dialogue + net/http", ours)
	}
	return nil
}
