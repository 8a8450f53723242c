package handler

import (
	"context"
	"sync"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
)

// maxShared bounds the probes a sharer remembers; when it is full of
// probes still in their window, a new probe runs unshared.
const maxShared = 4096

// shareKey names the probes that may be shared: the same target (as
// parsed) with the same module of the same configuration, so that a reload
// never serves an answer of the old one.
type shareKey struct {
	target string
	module *config.Module
}

// sharedProbe is one probe that several requests may answer from. It
// keeps the answer, not the outcome: transcripts stay out of the window.
type sharedProbe struct {
	done     chan struct{} // closed when the probe has ended
	started  time.Time
	deadline time.Time     // when the probe's budget ends
	window   time.Duration // how long after it started it may be shared
	answer   *exposition.Answer
	err      error
	ended    time.Time
}

// sharer lets requests for the same target and module within a module's
// share_window join a running probe or take a recent one's answer
// (SPEC "Shared sessions").
type sharer struct {
	mu     sync.Mutex
	limit  int
	probes map[shareKey]*sharedProbe
}

// newSharer remembers at most limit probes.
func newSharer(limit int) *sharer { return &sharer{limit: limit, probes: map[shareKey]*sharedProbe{}} }

// lookup returns a probe whose answer a request with budget may take now:
// one that started within its window, and is running and will end inside
// that budget, or has ended. With none, start is called (under the lock,
// so that concurrent requests start one probe) and its probe remembered;
// fresh reports that. start's error is returned as it is.
func (s *sharer) lookup(key shareKey, budget time.Duration, start func() (*sharedProbe, error)) (p *sharedProbe, fresh bool, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(now)
	if p := s.probes[key]; p != nil && now.Sub(p.started) <= p.window {
		select {
		case <-p.done:
			return p, false, nil
		default:
			if !p.deadline.After(now.Add(budget)) {
				return p, false, nil
			}
		}
	}
	if p, err = start(); err != nil {
		return nil, false, err
	}
	if len(s.probes) < s.limit {
		s.probes[key] = p
	}
	return p, true, nil
}

// dropExpired forgets the probes that ended and are past their window, so
// that the answers kept are those that may still be served.
func (s *sharer) dropExpired(now time.Time) {
	for k, p := range s.probes {
		select {
		case <-p.done:
			if now.Sub(p.started) > p.window {
				delete(s.probes, k)
			}
		default:
		}
	}
}

// wait returns the probe's answer and its age once the probe has ended, or
// ctx's error when the request goes first.
func (p *sharedProbe) wait(ctx context.Context) (*exposition.Answer, time.Duration, error) {
	select {
	case <-p.done:
		return p.answer, time.Since(p.ended), p.err
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

// runShared starts req's probe on its own context, so that the requester
// hanging up never cancels it for the others: it ends with its budget. It
// records the outcome once, as an unshared probe would be.
func (h *Handler) runShared(req *probeRequest, release func()) *sharedProbe {
	now := time.Now()
	p := &sharedProbe{done: make(chan struct{}), started: now, deadline: now.Add(req.Budget), window: req.Module.ShareWindow}
	go func() {
		defer close(p.done)
		defer release()
		h.opts.Metrics.inFlight.Inc()
		defer h.opts.Metrics.inFlight.Dec()
		outcome, err := h.opts.Prober.Run(context.Background(), req.Request)
		p.ended, p.err = time.Now(), err
		if err == nil {
			p.answer = outcome.Answer
			h.record(outcome)
		}
	}()
	return p
}
