package handler

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
)

// record is what /history and debug output show of one probe, built from
// its Outcome: the answer and each endpoint's verdict and transcript, not
// the TLS state, certificates and EHLO keywords the answer was built from,
// so that /history keeps a few KiB per probe, not what hostile servers sent.
type record struct {
	ID         uint64
	Time       time.Time
	Target     string
	ModuleName string
	Module     *config.Module
	Budget     time.Duration
	Duration   time.Duration
	Success    bool
	Endpoints  []endpointRecord
	Answer     *exposition.Answer
	// Size is roughly how many bytes the record holds, for the history's
	// byte bound.
	Size int
}

// endpointRecord is what debug output shows of one session.
type endpointRecord struct {
	Host       string
	Port       int
	Mode       config.TLSMode
	Up         bool
	Success    bool
	Failure    *probe.Failure
	Transcript *probe.Transcript
}

// recordOverhead approximates a record's fixed cost, in bytes.
const recordOverhead = 512

// newRecord keeps what the history shows of o.
func newRecord(o *probe.Outcome) *record {
	rec := &record{
		Time: o.Time, Target: o.Target, ModuleName: o.ModuleName, Module: o.Module,
		Budget: o.Budget, Duration: o.Duration, Success: o.Success(), Answer: o.Answer,
		Endpoints: make([]endpointRecord, len(o.Results)),
	}
	rec.Size = recordOverhead + o.Answer.Footprint()
	for i, r := range o.Results {
		rec.Endpoints[i] = endpointRecord{
			Host: r.Host, Port: r.Port, Mode: r.Settings.TLS, Up: r.Up, Success: r.Success(),
			Failure: r.Failure, Transcript: r.Transcript,
		}
		rec.Size += r.Transcript.Footprint()
	}
	return rec
}

// FailureSummary names each failed endpoint's port, phase and reason.
func (rec *record) FailureSummary() string {
	var parts []string
	for _, ep := range rec.Endpoints {
		if f := ep.Failure; f != nil {
			parts = append(parts, fmt.Sprintf("%d: %s/%s", ep.Port, f.Phase, f.Reason))
		}
	}
	return strings.Join(parts, ", ")
}

// History keeps the most recent probes for /history, bounded by count and
// by bytes.
type History struct {
	mu       sync.Mutex
	limit    int
	maxBytes int
	bytes    int
	nextID   uint64
	records  []*record // oldest first
}

// NewHistory keeps up to limit probes (0 keeps none) holding at most
// maxBytes together.
func NewHistory(limit, maxBytes int) *History { return &History{limit: limit, maxBytes: maxBytes} }

func (h *History) add(rec *record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	rec.ID = h.nextID
	if h.limit <= 0 {
		return
	}
	h.records = append(h.records, rec)
	h.bytes += rec.Size
	drop := 0
	for drop < len(h.records) && (len(h.records)-drop > h.limit || h.bytes > h.maxBytes) {
		h.bytes -= h.records[drop].Size
		drop++
	}
	if drop > 0 {
		h.records = append(h.records[:0], h.records[drop:]...)
	}
}

func (h *History) find(id uint64) *record {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rec := range h.records {
		if rec.ID == id {
			return rec
		}
	}
	return nil
}

func (h *History) newestFirst() []*record {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*record, len(h.records))
	for i, rec := range h.records {
		out[len(out)-1-i] = rec
	}
	return out
}

var historyPage = template.Must(template.New("history").Parse(`<!DOCTYPE html>
<html><head><title>smtp_exporter: recent probes</title></head>
<body><h1>Recent probes</h1>
<p><a href="{{.Root}}">Home</a></p>
<table border="1" cellpadding="4">
<tr><th>time</th><th>target</th><th>module</th><th>result</th><th>failure</th><th>took</th><th>transcript</th></tr>
{{range .Records}}<tr><td>{{.Time.UTC.Format "2006-01-02 15:04:05"}}</td><td>{{.Target}}</td><td>{{.ModuleName}}</td>
<td>{{if .Success}}success{{else}}failure{{end}}</td><td>{{.FailureSummary}}</td><td>{{.Duration}}</td>
<td><a href="?id={{.ID}}">transcript</a></td></tr>
{{end}}</table></body></html>
`))

// ServeHTTP lists recent probes, or with ?id=N shows one probe's transcript.
func (h *History) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if idText := r.URL.Query().Get("id"); idText != "" {
		id, err := strconv.ParseUint(idText, 10, 64)
		rec := h.find(id)
		if err != nil || rec == nil {
			http.Error(w, fmt.Sprintf("no probe %q in the history (it keeps the last %d)", idText, h.limit), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rec.writeDebug(w)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	root := strings.TrimSuffix(r.URL.Path, "history")
	if err := historyPage.Execute(w, map[string]any{"Root": root, "Records": h.newestFirst()}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
