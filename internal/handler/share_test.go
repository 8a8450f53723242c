package handler

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// slowServer greets after delay and counts its sessions.
func slowServer(t *testing.T, delay time.Duration) (int, *atomic.Int64) {
	t.Helper()
	var sessions atomic.Int64
	port := smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
		sessions.Add(1)
		time.Sleep(delay)
		c.Say("220 shared.test ESMTP")
		if c.ExpectVerb("EHLO") {
			c.Say("250 shared.test")
			c.ServeUntilQuit()
		}
	})
	return port, &sessions
}

func shareFixture(t *testing.T, window string, delay time.Duration) (*handlerFixture, *atomic.Int64) {
	t.Helper()
	port, sessions := slowServer(t, delay)
	body := fmt.Sprintf("timeout: 3s\nshare_window: %s\nports: [{port: %d, tls: none}]\n", window, port)
	return newHandlerFixture(t, modulesYAML(map[string]string{"default": body}), fixtureOptions{}), sessions
}

// withoutAge drops the age lines, by which alone the answers of one
// shared probe differ.
func withoutAge(body string) string {
	var keep []string
	for _, line := range strings.Split(body, "\n") {
		if !strings.Contains(line, "probe_smtp_result_age_seconds") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// TestSharedProbeJoined: two requests at once make one SMTP session and
// get the same answer, the second marked as shared.
func TestSharedProbeJoined(t *testing.T) {
	fx, sessions := shareFixture(t, "30s", 300*time.Millisecond)
	var wg sync.WaitGroup
	bodies := make([]string, 2)
	for i := range bodies {
		wg.Go(func() {
			if i == 1 {
				time.Sleep(100 * time.Millisecond) // while the first probe runs
			}
			bodies[i] = fx.probe(t.Context(), probeQuery("127.0.0.1", "", false)).Body.String()
		})
	}
	wg.Wait()
	if n := sessions.Load(); n != 1 {
		t.Errorf("%d SMTP sessions for two requests, want 1", n)
	}
	if withoutAge(bodies[0]) != withoutAge(bodies[1]) {
		t.Errorf("answers differ beyond the age:\n%s\n---\n%s", bodies[0], bodies[1])
	}
	parseExposition(t, bodies[0]).want(t, 0, "probe_smtp_result_age_seconds")
	parseExposition(t, bodies[0]).want(t, 1, "probe_success")
	if got := testutil.ToFloat64(fx.metrics.shared.WithLabelValues("default")); got != 1 {
		t.Errorf("smtp_exporter_probes_shared_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(fx.metrics.probes.WithLabelValues("default", "success")); got != 1 {
		t.Errorf("smtp_exporter_probes_total = %v, want 1 probe run", got)
	}
}

// TestSharedProbeWindow: within the window a request gets the ended
// probe's answer and its age; after it, a new session.
func TestSharedProbeWindow(t *testing.T) {
	fx, sessions := shareFixture(t, "1500ms", 0)
	fx.probe(t.Context(), probeQuery("127.0.0.1", "", false))
	time.Sleep(150 * time.Millisecond)
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("127.0.0.1", "", false)).Body.String())
	if age := s.series("probe_smtp_result_age_seconds"); len(age) != 1 || dtoValue(age[0]) < 0.1 || dtoValue(age[0]) > 1.5 {
		t.Errorf("age %v, want about 0.15 s", age)
	}
	if n := sessions.Load(); n != 1 {
		t.Errorf("%d sessions within the window, want 1", n)
	}
	time.Sleep(1500 * time.Millisecond)
	s = parseExposition(t, fx.probe(t.Context(), probeQuery("127.0.0.1", "", false)).Body.String())
	s.want(t, 0, "probe_smtp_result_age_seconds")
	if n := sessions.Load(); n != 2 {
		t.Errorf("%d sessions after the window, want 2", n)
	}
}

// TestSharedProbeOutlivesItsRequester: the first scraper hanging up never
// cancels the probe for the second.
func TestSharedProbeOutlivesItsRequester(t *testing.T) {
	fx, sessions := shareFixture(t, "30s", 300*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	go fx.probe(ctx, probeQuery("127.0.0.1", "", false))
	time.Sleep(100 * time.Millisecond)
	cancel()
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("127.0.0.1", "", false)).Body.String())
	s.want(t, 1, "probe_success")
	s.want(t, 1, "probe_smtp_up", "host", "127.0.0.1")
	if n := sessions.Load(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// TestSharedProbeNotForDebug: debug output always comes from a fresh probe.
func TestSharedProbeNotForDebug(t *testing.T) {
	fx, sessions := shareFixture(t, "30s", 0)
	fx.probe(t.Context(), probeQuery("127.0.0.1", "", false))
	rec := fx.probe(t.Context(), probeQuery("127.0.0.1", "", true))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "220 shared.test") {
		t.Errorf("debug answer %d without a transcript:\n%s", rec.Code, rec.Body)
	}
	if n := sessions.Load(); n != 2 {
		t.Errorf("%d sessions, want 2: debug probes afresh", n)
	}
}

// TestSharedProbeNotJoinedPastTheBudget: a running probe that would end
// after a request's own budget is not joined.
func TestSharedProbeNotJoinedPastTheBudget(t *testing.T) {
	fx, sessions := shareFixture(t, "30s", 800*time.Millisecond)
	go fx.probe(t.Context(), probeQuery("127.0.0.1", "", false)) // a 3 s budget
	time.Sleep(100 * time.Millisecond)
	fx.probe(t.Context(), probeQuery("127.0.0.1", "", false), scrapeTimeoutHeader, "1.5") // 1 s
	if n := sessions.Load(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

// TestSharerCap: the sharer forgets probes past their window, and shares
// nothing new while it is full of live ones.
func TestSharerCap(t *testing.T) {
	s := newSharer(2)
	m := &config.Module{}
	ended := func() (*sharedProbe, error) {
		p := &sharedProbe{done: make(chan struct{}), started: time.Now().Add(-time.Hour), window: time.Minute}
		close(p.done)
		return p, nil
	}
	running := func() (*sharedProbe, error) {
		return &sharedProbe{done: make(chan struct{}), started: time.Now(), deadline: time.Now().Add(time.Hour), window: time.Minute}, nil
	}
	s.lookup(shareKey{"a", m}, time.Second, ended)
	s.lookup(shareKey{"b", m}, time.Second, running)
	s.lookup(shareKey{"c", m}, time.Second, running) // a is past its window: dropped
	if len(s.probes) != 2 || s.probes[shareKey{"a", m}] != nil {
		t.Errorf("probes %v: want b and c", s.probes)
	}
	if _, fresh, _ := s.lookup(shareKey{"d", m}, time.Second, running); !fresh || len(s.probes) != 2 {
		t.Errorf("a full sharer of live probes took another: %d entries", len(s.probes))
	}
	// The same target with another module (after a reload) is not shared.
	if _, fresh, _ := s.lookup(shareKey{"b", &config.Module{}}, time.Hour, running); !fresh {
		t.Error("a probe of another configuration's module was shared")
	}
	// The window runs from the probe's start, not its end.
	old := func() (*sharedProbe, error) {
		p := &sharedProbe{done: make(chan struct{}), started: time.Now().Add(-2 * time.Minute), ended: time.Now(), window: time.Minute}
		close(p.done)
		return p, nil
	}
	s2 := newSharer(10)
	s2.lookup(shareKey{"x", m}, time.Second, old)
	if _, fresh, _ := s2.lookup(shareKey{"x", m}, time.Second, running); !fresh {
		t.Error("a probe that started before the window was shared")
	}
}
