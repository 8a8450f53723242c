package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/limits"
)

// scrapeTimeoutHeader is how Prometheus tells a target its scrape timeout.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// HandlerOptions wire a probe Handler.
type HandlerOptions struct {
	// Config returns the running configuration.
	Config func() *config.Config
	// Prober runs the SMTP sessions.
	Prober *Prober
	// Metrics are the exporter's own metrics.
	Metrics *ExporterMetrics
	// History keeps recent probes for /history; may be nil.
	History *History
	// TimeoutOffset is subtracted from Prometheus's scrape timeout.
	TimeoutOffset time.Duration
	// MaxConcurrent caps probes in flight; more are answered with 503.
	MaxConcurrent int
	// Sockets admits the sockets a probe opens (its sessions and DNS
	// lookups) against the descriptors the process has for them; a probe
	// they do not fit is answered with 503. Nil admits every probe.
	Sockets *limits.Admission
	// Logger receives request errors at debug level.
	Logger *slog.Logger
}

// Handler serves /probe: one probe of every port of a target per request,
// answered with series built fresh from that probe's results (no state is
// shared between requests).
type Handler struct {
	opts  HandlerOptions
	slots chan struct{}
}

// NewHandler returns a probe handler.
func NewHandler(opts HandlerOptions) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{opts: opts, slots: make(chan struct{}, max(opts.MaxConcurrent, 1))}
}

// requestError is a request the handler refuses: an HTTP status, the
// smtp_exporter_request_errors_total reason and a one-line message.
type requestError struct {
	status int
	reason string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(reason, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// probeRequest is a parsed, valid /probe request.
type probeRequest struct {
	target     Target
	rawTarget  string
	moduleName string
	module     *config.Module
	budget     time.Duration
	debug      bool
	cfg        *config.Config
}

// ServeHTTP runs one probe.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.refuse(w, &requestError{http.StatusServiceUnavailable, "overloaded",
			fmt.Sprintf("%d probes already in flight (--probe.max-concurrent)", cap(h.slots))})
		return
	}
	req, reqErr := h.parse(r)
	if reqErr != nil {
		h.refuse(w, reqErr)
		return
	}
	if sockets := h.opts.Sockets; sockets != nil {
		need := socketsNeeded(req)
		if !sockets.TryAcquire(need) {
			h.refuse(w, &requestError{http.StatusServiceUnavailable, "overloaded",
				fmt.Sprintf("%d of %d probe sockets in use, this probe needs %d: the descriptor limit allows no more", sockets.InUse(), sockets.Capacity(), need)})
			return
		}
		defer sockets.Release(need)
	}
	h.opts.Metrics.inFlight.Inc()
	defer h.opts.Metrics.inFlight.Dec()

	rec, reqErr := h.probe(r.Context(), req)
	if reqErr != nil {
		h.refuse(w, reqErr)
		return
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return // the scraper went away: its sessions were cut, not failed
	}
	h.opts.Metrics.observe(rec)
	if h.opts.History != nil {
		h.opts.History.add(rec)
	}
	if req.debug {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rec.writeDebug(w)
		return
	}
	writeAnswer(w, r, rec.Answer)
}

// socketsNeeded is how many sockets the probe may hold at once: one per
// session, and two while a name resolves (A and AAAA are asked together).
func socketsNeeded(req *probeRequest) int {
	n := len(req.module.Ports)
	if req.target.Port != 0 {
		n = 1
	}
	if !req.target.IP.IsValid() {
		n += 2
	}
	return n
}

// answerBuffers are reused across answers: encoding is quick, so a few
// buffers serve a thousand probes finishing at once.
var answerBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeAnswer sends the probe's series in the format the scraper asked
// for, in one write with a Content-Length. Uncompressed: the answer is a few
// KiB, and setting up gzip for each one cost more CPU than building it.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *answer) {
	format := negotiate(r.Header.Get("Accept"))
	buf := answerBuffers.Get().(*[]byte)
	defer answerBuffers.Put(buf)
	body, err := a.encode((*buf)[:0], format)
	*buf = body
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(format.format))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (h *Handler) refuse(w http.ResponseWriter, e *requestError) {
	h.opts.Metrics.requestErrors.WithLabelValues(e.reason).Inc()
	h.opts.Logger.Debug("probe request refused", "reason", e.reason, "err", e.msg)
	http.Error(w, e.msg, e.status)
}

// parse checks the request's parameters and header.
func (h *Handler) parse(r *http.Request) (*probeRequest, *requestError) {
	q := r.URL.Query()
	for _, name := range []string{"target", "module", "debug"} {
		if len(q[name]) > 1 {
			return nil, badRequest("repeated_param", "parameter %q given %d times", name, len(q[name]))
		}
	}
	req := &probeRequest{rawTarget: q.Get("target"), moduleName: q.Get("module"), cfg: h.opts.Config()}
	if req.rawTarget == "" {
		return nil, badRequest("missing_target", "parameter \"target\" is missing or empty")
	}
	t, err := ParseTarget(req.rawTarget)
	var targetErr *TargetError
	switch {
	case errors.As(err, &targetErr):
		return nil, badRequest(targetErr.Reason, "%s", targetErr.Msg)
	case err != nil:
		return nil, badRequest("bad_target", "%v", err)
	}
	req.target = t
	if req.moduleName == "" {
		req.moduleName = "default"
	}
	if req.module = req.cfg.Modules[req.moduleName]; req.module == nil {
		return nil, badRequest("unknown_module", "unknown module %q; the modules are %s", req.moduleName, strings.Join(req.cfg.ModuleNames(), ", "))
	}
	req.debug, _ = strconv.ParseBool(q.Get("debug"))
	budget, reqErr := h.budget(r, req.module.Timeout)
	req.budget = budget
	return req, reqErr
}

// minBudget is the least budget a probe gets, however small the scrape
// timeout Prometheus sends.
const minBudget = time.Millisecond

// budget is the module timeout, capped by Prometheus's scrape timeout less
// the offset.
func (h *Handler) budget(r *http.Request, moduleTimeout time.Duration) (time.Duration, *requestError) {
	header := r.Header.Get(scrapeTimeoutHeader)
	if header == "" {
		return moduleTimeout, nil
	}
	seconds, err := strconv.ParseFloat(header, 64)
	if err != nil || seconds <= 0 || math.IsInf(seconds, 0) || math.IsNaN(seconds) {
		return 0, badRequest("bad_timeout", "header %s is %q, not a positive number of seconds", scrapeTimeoutHeader, header)
	}
	return scrapeBudget(seconds, h.opts.TimeoutOffset, moduleTimeout), nil
}

// scrapeBudget is min(moduleTimeout, seconds − offset), at least minBudget;
// a scrape timeout no longer than the offset is taken whole. Seconds are
// compared before they become a Duration, which 1e10 s would overflow.
func scrapeBudget(seconds float64, offset, moduleTimeout time.Duration) time.Duration {
	if seconds >= (moduleTimeout + offset).Seconds() {
		return moduleTimeout
	}
	scrape := time.Duration(seconds * float64(time.Second))
	if scrape > offset {
		scrape -= offset
	}
	return min(moduleTimeout, max(scrape, minBudget))
}

// checkAllowed refuses the probe unless the global and the module's
// allowed_targets admit every address the target resolved to: the
// endpoints dial only addresses among those.
func checkAllowed(cfg *config.Config, m *config.Module, endpoints []Endpoint) *requestError {
	if !cfg.RestrictsTargets(m) {
		return nil
	}
	for i, ep := range endpoints {
		if i > 0 && ep.Host == endpoints[i-1].Host {
			continue // the same addresses, checked already
		}
		if ep.ResolvedTruncated {
			return &requestError{http.StatusForbidden, "not_allowed",
				fmt.Sprintf("target %s resolves to more than %d addresses, too many to check against allowed_targets", ep.Host, maxResolvedAddrs)}
		}
		for _, addr := range ep.Resolved {
			if !cfg.TargetAllowed(m, ep.Host, addr) {
				return &requestError{http.StatusForbidden, "not_allowed",
					fmt.Sprintf("target %s resolves to %s, outside allowed_targets", ep.Host, addr)}
			}
		}
	}
	return nil
}

// probe resolves, checks the addresses against allowed_targets, and runs the
// sessions within the budget.
func (h *Handler) probe(parent context.Context, req *probeRequest) (*probeRecord, *requestError) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, req.budget)
	defer cancel()
	endpoints := h.opts.Prober.Endpoints(ctx, req.target, req.module)
	if reqErr := checkAllowed(req.cfg, req.module, endpoints); reqErr != nil {
		return nil, reqErr
	}
	results := h.opts.Prober.Probe(ctx, req.module, endpoints)
	rec := &probeRecord{
		Time: start, Target: req.rawTarget, ModuleName: req.moduleName, Module: req.module,
		Budget: req.budget, Duration: time.Since(start), Results: results,
	}
	rec.Answer = buildAnswer(results, rec.Duration, start)
	rec.compact()
	return rec, nil
}
