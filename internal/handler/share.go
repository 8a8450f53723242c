package handler

import (
	"context"
	"sync"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
)

// maxShared bounds the probes a sharer remembers: past it, expired ones
// are dropped, and when none has expired a probe runs unshared.
const maxShared = 4096

// shareKey names the probes that may be shared: the same target (as
// parsed) with the same module.
type shareKey struct {
	target, module string
}

// sharedProbe is one probe that several requests may answer from. It
// keeps the answer, not the outcome: transcripts stay out of the window.
type sharedProbe struct {
	done     chan struct{} // closed when the probe has ended
	deadline time.Time     // when the probe's budget ends
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
// one running that will end inside that budget, or one that ended within
// window. With none, start is called (under the lock, so that concurrent
// requests start one probe) and its probe is remembered; fresh reports
// that.
func (s *sharer) lookup(key shareKey, window, budget time.Duration, start func() *sharedProbe) (p *sharedProbe, fresh bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.probes[key]; p != nil {
		select {
		case <-p.done:
			if now.Sub(p.ended) <= window {
				return p, false
			}
		default:
			if !p.deadline.After(now.Add(budget)) {
				return p, false
			}
		}
	}
	p = start()
	if s.makeRoom(now, window) {
		s.probes[key] = p
	}
	return p, true
}

// makeRoom drops probes that ended longer than window ago when the sharer
// is full; it reports whether there is room for one more.
func (s *sharer) makeRoom(now time.Time, window time.Duration) bool {
	if len(s.probes) < s.limit {
		return true
	}
	for k, p := range s.probes {
		select {
		case <-p.done:
			if now.Sub(p.ended) > window {
				delete(s.probes, k)
			}
		default:
		}
	}
	return len(s.probes) < s.limit
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
	p := &sharedProbe{done: make(chan struct{}), deadline: time.Now().Add(req.Budget)}
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
