package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// capacityRecord is one measurement of the capacity bench.
type capacityRecord struct {
	Phase string `json:"phase"` // rate, memory or ha
	Kind  string `json:"kind"`  // host or mx (ha: host)
	// rate
	OfferedRate float64 `json:"offered_rate,omitempty"`
	SentRate    float64 `json:"sent_rate,omitempty"`
	Answered    int     `json:"answered,omitempty"`
	Fails       int     `json:"fails,omitempty"`
	P50Ms       float64 `json:"p50_ms,omitempty"`
	P99Ms       float64 `json:"p99_ms,omitempty"`
	LastMs      float64 `json:"last_answer_after_step_ms,omitempty"`
	CPUS        float64 `json:"cpu_s,omitempty"`
	CPUMs       float64 `json:"cpu_ms_per_probe,omitempty"`
	Held        bool    `json:"held"`
	FirstErr    string  `json:"first_error,omitempty"`
	// memory
	InFlight      int     `json:"in_flight,omitempty"`
	RSSIdleMiB    float64 `json:"rss_idle_mib,omitempty"`
	RSSMiB        float64 `json:"rss_mib,omitempty"`
	HeapStackMiB  float64 `json:"heap_stack_delta_mib,omitempty"`
	KiBPerSession float64 `json:"rss_kib_per_session,omitempty"`
	SocketsLimit  float64 `json:"probe_sockets_limit,omitempty"`
	SocketsPer    float64 `json:"probe_sockets_per_probe,omitempty"`
	// ha
	Share          bool    `json:"share,omitempty"`
	Targets        int     `json:"targets,omitempty"`
	Intervals      int     `json:"intervals,omitempty"`
	Sessions       int64   `json:"sessions,omitempty"`
	SharedAnswers  float64 `json:"shared_answers,omitempty"`
	PerTargetRound float64 `json:"sessions_per_target_interval,omitempty"`
}

// newLoadClient keeps connections to the exporter open, as Prometheus
// does.
func newLoadClient() *http.Client {
	t := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	return &http.Client{Transport: t, Timeout: capacityBudget + 5*time.Second}
}

// probeOK fetches url as Prometheus would and reports whether the answer
// is a 200 with probe_success 1.
func probeOK(client *http.Client, url string) error {
	status, body, err := fetch(client, url, true)
	switch {
	case err != nil:
		return err
	case status != http.StatusOK:
		return fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
	case !succeeded(body):
		return fmt.Errorf("probe_success is not 1: %s", failureInfo(body))
	}
	return nil
}

// succeeded reports whether the answer's probe_success is 1 (written "1"
// in the text format, "1.0" in OpenMetrics).
func succeeded(body []byte) bool {
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "probe_success "); ok {
			x, err := strconv.ParseFloat(v, 64)
			return err == nil && x == 1
		}
	}
	return false
}

// failureInfo returns the answer's failure series, which say why.
func failureInfo(body []byte) string {
	var why []string
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.Contains(line, "failure_info{") {
			why = append(why, line)
		}
	}
	return strings.Join(why, "; ")
}

// rateSteps offers kind's probes at each rate in turn to a fresh
// exporter, open loop (a probe every 1/rate, whatever the answers do),
// and stops after the first rate not held.
func (l *capacityLab) rateSteps(kind, rates string, step time.Duration) ([]capacityRecord, error) {
	p, err := l.startExporter()
	if err != nil {
		return nil, err
	}
	defer p.stop()
	client := newLoadClient()
	for i := range 20 { // warm-up: connections, caches, heap
		probeOK(client, p.probeURL(kind, 1_000_000+i))
	}
	var recs []capacityRecord
	next := 0
	for _, text := range strings.Split(rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || rate <= 0 {
			return nil, fmt.Errorf("bad rate %q", text)
		}
		r, err := l.openLoop(p, client, kind, rate, step, &next)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
		fmt.Printf("capacity: %s %.0f/s (sent %.0f/s): %d answers, %d failed, p99 %.1f ms, %.3f ms CPU per probe, held %v %s\n",
			kind, rate, r.SentRate, r.Answered, r.Fails, r.P99Ms, r.CPUMs, r.Held, r.FirstErr)
		if !r.Held {
			break
		}
	}
	return recs, nil
}

// openLoop sends rate probes a second for step, each of a target of its
// own, and charges the exporter's CPU time over the step to them.
func (l *capacityLab) openLoop(p *exporterProcess, client *http.Client, kind string, rate float64, step time.Duration, next *int) (capacityRecord, error) {
	cpu0, err := cpuSeconds(p.pid, l.clkTck)
	if err != nil {
		return capacityRecord{}, err
	}
	var mu sync.Mutex
	var lat []time.Duration
	var fails int
	var firstErr string
	var wg sync.WaitGroup
	start := time.Now()
	gap := time.Duration(float64(time.Second) / rate)
	for i := 0; time.Duration(i)*gap < step; i++ {
		// Each probe at its own time, late ones at once: a slow answer
		// never delays the next request.
		time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
		url := p.probeURL(kind, *next)
		*next++
		wg.Go(func() {
			t := time.Now()
			err := probeOK(client, url)
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, time.Since(t))
			if err != nil && fails == 0 {
				firstErr = err.Error()
			}
			if err != nil {
				fails++
			}
		})
	}
	sent := time.Since(start)
	wg.Wait()
	after := time.Since(start) - step
	cpu1, err := cpuSeconds(p.pid, l.clkTck)
	if err != nil {
		return capacityRecord{}, err
	}
	r := capacityRecord{Phase: "rate", Kind: kind, OfferedRate: rate, SentRate: float64(len(lat)) / sent.Seconds(), Answered: len(lat), Fails: fails,
		P50Ms: percentile(lat, 0.5), P99Ms: percentile(lat, 0.99), LastMs: float64(after.Milliseconds()),
		CPUS: cpu1 - cpu0, CPUMs: (cpu1 - cpu0) * 1000 / float64(len(lat)), FirstErr: firstErr}
	// Held: the load generator sent the rate (within 5 %), every probe
	// succeeded, p99 is within the budget + 250 ms, and the exporter kept
	// up (the last answer came within a second of the step's end).
	r.Held = r.SentRate >= 0.95*rate && fails == 0 && after < time.Second &&
		r.P99Ms <= float64((capacityBudget+answerSlack).Milliseconds())
	return r, nil
}

// memoryLevels holds n probes of kind in flight against the tarpit, for
// each level n, each on a fresh exporter, and reads its memory while all
// of them wait for a greeting.
func (l *capacityLab) memoryLevels(kind, levels string) ([]capacityRecord, error) {
	var recs []capacityRecord
	for _, text := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad in-flight level %q", text)
		}
		r, err := l.memoryLevel(kind, n)
		if err != nil {
			return nil, err
		}
		fmt.Printf("capacity: %s, %d in flight: RSS %.1f MiB (idle %.1f), %.1f KiB per session\n",
			kind, n, r.RSSMiB, r.RSSIdleMiB, r.KiBPerSession)
		recs = append(recs, r)
	}
	return recs, nil
}

func (l *capacityLab) memoryLevel(kind string, n int) (capacityRecord, error) {
	p, err := l.startExporter()
	if err != nil {
		return capacityRecord{}, err
	}
	defer p.stop()
	metrics := &http.Client{Timeout: 5 * time.Second}
	time.Sleep(500 * time.Millisecond)
	idleRSS, _ := procStatusKiB(p.pid)
	idle := gauges(metrics, p.base+"/metrics")
	client := newLoadClient()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { probeOK(client, p.probeURL(kind+"_tarpit", i)) })
	}
	var busy map[string]float64
	for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if busy = gauges(metrics, p.base+"/metrics"); busy["smtp_exporter_probes_in_flight"] >= float64(n) {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // every session connected and waiting
	rss, _ := procStatusKiB(p.pid)
	busy = gauges(metrics, p.base+"/metrics")
	wg.Wait()
	if got := int(busy["smtp_exporter_probes_in_flight"]); got < n {
		fmt.Printf("capacity: %s: %d of %d probes in flight at the reading\n", kind, got, n)
		n = got
	}
	heapStack := func(g map[string]float64) float64 {
		return g["go_memstats_heap_inuse_bytes"] + g["go_memstats_stack_inuse_bytes"]
	}
	return capacityRecord{Phase: "memory", Kind: kind, InFlight: n, RSSIdleMiB: idleRSS / 1024, RSSMiB: rss / 1024,
		HeapStackMiB:  (heapStack(busy) - heapStack(idle)) / (1 << 20),
		KiBPerSession: (rss - idleRSS) / float64(n),
		SocketsLimit:  idle["smtp_exporter_probe_sockets_limit"],
		SocketsPer:    busy["smtp_exporter_probe_sockets_in_use"] / float64(n)}, nil
}

// haPair plays an HA pair: two scrapers, each scraping every target once
// per interval at an offset of its own (as two Prometheus servers with
// different external labels do), for intervals rounds; the MTA counts the
// sessions. share picks the module with share_window (half the interval).
func (l *capacityLab) haPair(share bool, targets int, interval time.Duration, intervals int) (capacityRecord, error) {
	p, err := l.startExporter()
	if err != nil {
		return capacityRecord{}, err
	}
	defer p.stop()
	module := map[bool]string{true: "ha_shared", false: "ha_unshared"}[share]
	client := newLoadClient()
	var fails atomic.Int64
	before := l.mta.sessions.Load()
	start := time.Now().Add(100 * time.Millisecond)
	var wg sync.WaitGroup
	for range 2 {
		for i := range targets {
			offset := time.Duration(rand.Int64N(int64(interval)))
			wg.Go(func() {
				for k := range intervals {
					time.Sleep(time.Until(start.Add(offset + time.Duration(k)*interval)))
					if probeOK(client, p.probeURL(module, i)) != nil {
						fails.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if n := fails.Load(); n > 0 {
		return capacityRecord{}, fmt.Errorf("HA pair (%s): %d scrapes failed", module, n)
	}
	time.Sleep(200 * time.Millisecond) // shared probes run on: let the last end
	sessions := l.mta.sessions.Load() - before
	r := capacityRecord{Phase: "ha", Kind: "host", Share: share, Targets: targets, Intervals: intervals, Sessions: sessions,
		PerTargetRound: float64(sessions) / float64(targets*intervals)}
	r.SharedAnswers = sharedAnswers(p.base + "/metrics")
	fmt.Printf("capacity: HA pair, share %v: %d sessions for %d targets x %d intervals = %.2f per target per interval\n",
		share, sessions, targets, intervals, r.PerTargetRound)
	return r, nil
}

// sharedAnswers sums smtp_exporter_probes_shared_total over its modules.
func sharedAnswers(url string) float64 {
	_, body, err := fetch(&http.Client{Timeout: 5 * time.Second}, url, false)
	if err != nil {
		return 0
	}
	var sum float64
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "smtp_exporter_probes_shared_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}
