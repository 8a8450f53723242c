// Package handler serves HTTP: /probe (parsing, budget, admission, the
// answer in the format the scraper asked for), /history, and the
// exporter's own metrics about probes.
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/limits"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
)

// scrapeTimeoutHeader is how Prometheus tells a target its scrape timeout.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// Options wire a probe Handler.
type Options struct {
	// Config returns the running configuration.
	Config func() *config.Config
	// Prober runs the SMTP sessions.
	Prober *probe.Prober
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
	opts    Options
	slots   chan struct{}
	answers answerWriter
	shared  *sharer
}

// New returns a probe handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{opts: opts, slots: make(chan struct{}, max(opts.MaxConcurrent, 1)), answers: newAnswerWriter(), shared: newSharer(maxShared)}
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
	probe.Request
	debug bool
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
	if req.Module.ShareWindow > 0 && !req.debug {
		h.serveShared(w, r, req)
		return
	}
	release, reqErr := h.admit(req)
	if reqErr != nil {
		h.refuse(w, reqErr)
		return
	}
	defer release()
	h.opts.Metrics.inFlight.Inc()
	defer h.opts.Metrics.inFlight.Dec()

	outcome, err := h.opts.Prober.Run(r.Context(), req.Request)
	if h.refuseNotAllowed(w, err) {
		return
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		return // the scraper went away: its sessions were cut, not failed
	}
	rec := h.record(outcome)
	if req.debug {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rec.writeDebug(w)
		return
	}
	h.answers.write(w, r, outcome.Answer)
}

// serveShared answers from a probe of the same target and module that is
// running or ended within window, or starts one that later requests may
// share. The answer carries probe_smtp_result_age_seconds.
func (h *Handler) serveShared(w http.ResponseWriter, r *http.Request, req *probeRequest) {
	key := shareKey{target: req.Target.Host + ":" + strconv.Itoa(req.Target.Port), module: req.Module}
	p, fresh, reqErr := h.shared.lookup(key, req.Budget, func() (*sharedProbe, error) {
		release, err := h.admit(req)
		if err != nil {
			return nil, err
		}
		return h.runShared(req, release), nil
	})
	var refusal *requestError
	if errors.As(reqErr, &refusal) {
		h.refuse(w, refusal)
		return
	}
	if !fresh {
		h.opts.Metrics.shared.WithLabelValues(req.ModuleName).Inc()
	}
	answer, age, err := p.wait(r.Context())
	if err != nil && errors.Is(err, r.Context().Err()) {
		return // the scraper went away; the probe goes on for the others
	}
	if h.refuseNotAllowed(w, err) {
		return
	}
	if fresh {
		age = 0
	}
	h.answers.write(w, r, probe.WithAge(answer, age))
}

// admit takes the sockets req's probe may open, or refuses it.
func (h *Handler) admit(req *probeRequest) (release func(), _ *requestError) {
	sockets := h.opts.Sockets
	if sockets == nil {
		return func() {}, nil
	}
	need := socketsNeeded(req)
	if !sockets.TryAcquire(need) {
		return nil, &requestError{http.StatusServiceUnavailable, "overloaded",
			fmt.Sprintf("%d of %d probe sockets in use, this probe needs %d: the descriptor limit allows no more", sockets.InUse(), sockets.Capacity(), need)}
	}
	return func() { sockets.Release(need) }, nil
}

// refuseNotAllowed answers 403 when err refuses the target.
func (h *Handler) refuseNotAllowed(w http.ResponseWriter, err error) bool {
	var notAllowed *probe.NotAllowedError
	if !errors.As(err, &notAllowed) {
		return false
	}
	h.refuse(w, &requestError{http.StatusForbidden, "not_allowed", notAllowed.Error()})
	return true
}

// record counts a finished probe and keeps it for /history.
func (h *Handler) record(outcome *probe.Outcome) *record {
	h.opts.Metrics.observe(outcome)
	rec := newRecord(outcome)
	if h.opts.History != nil {
		h.opts.History.add(rec)
	}
	return rec
}

// socketsNeeded is how many sockets the probe may hold at once: one per
// session, and two while a name resolves (A and AAAA are asked together);
// for a mail domain, the MX lookup, every MX host resolving at once and
// every endpoint its plan may hold; beside each session its TLSA lookup
// (dane) and its reverse lookups (reverse_dns); beside the domain's
// sessions the MTA-STS lookups and fetch, and the TLS-RPT lookup.
func socketsNeeded(req *probeRequest) int {
	m := req.Module
	ports := len(m.Ports)
	if req.Target.Port != 0 {
		ports = 1
	}
	perHost := 1
	if m.Addresses == config.AddressesAll {
		perHost = 2 * m.AddressLimit()
	}
	hosts, lookups := 1, 0
	if m.Targets == config.TargetsMX {
		hosts, lookups = m.HostLimit(), 1 // the MX lookup
	}
	if m.Targets == config.TargetsMX || !req.Target.IP.IsValid() {
		lookups += 2 * hosts // A and AAAA of each host, at once
	}
	endpoints := min(plan.MaxEndpoints, ports*hosts*perHost)
	perEndpoint := 1
	if m.DANE {
		perEndpoint++
	}
	if m.ReverseDNS {
		perEndpoint += 2
	}
	if m.MTASTS {
		lookups += 3 // the TXT record, the policy host's addresses, the fetch
	}
	if m.TLSRPT {
		lookups++
	}
	return lookups + endpoints*perEndpoint
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
	req := &probeRequest{Request: probe.Request{RawTarget: q.Get("target"), ModuleName: q.Get("module"), Config: h.opts.Config()}}
	if req.RawTarget == "" {
		return nil, badRequest("missing_target", "parameter \"target\" is missing or empty")
	}
	t, err := probe.ParseTarget(req.RawTarget)
	var targetErr *probe.TargetError
	switch {
	case errors.As(err, &targetErr):
		return nil, badRequest(targetErr.Reason, "%s", targetErr.Msg)
	case err != nil:
		return nil, badRequest("bad_target", "%v", err)
	}
	req.Target = t
	if req.ModuleName == "" {
		req.ModuleName = "default"
	}
	if req.Module = req.Config.Modules[req.ModuleName]; req.Module == nil {
		return nil, badRequest("unknown_module", "unknown module %q; the modules are %s", req.ModuleName, strings.Join(req.Config.ModuleNames(), ", "))
	}
	if req.Module.Targets == config.TargetsMX && (t.Port != 0 || t.IP.IsValid()) {
		return nil, badRequest("bad_target", "module %q takes a mail domain (targets: mx): target %q must be a domain name, without a port", req.ModuleName, req.RawTarget)
	}
	if values, given := q["debug"]; given {
		if req.debug, err = strconv.ParseBool(values[0]); err != nil {
			return nil, badRequest("bad_param", "parameter \"debug\" is %q, not a boolean (true, false, 1, 0, t, f)", values[0])
		}
	}
	budget, reqErr := h.budget(r, req.Module.Timeout)
	req.Budget = budget
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
