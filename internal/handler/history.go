package handler

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
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

// endpointRecord is what /history and debug output show of one session.
type endpointRecord struct {
	Host string
	Port int
	// Address is the IP address dialled last; empty when none was.
	Address string
	Mode    config.TLSMode
	Up      bool
	Success bool
	Failure *probe.Failure
	// Took is the time the session spent in its phases, resolving included.
	Took       time.Duration
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
			Host: r.Host, Port: r.Port, Address: dialledAddress(r.Addr), Mode: r.Settings.TLS,
			Up: r.Up, Success: r.Success(), Failure: r.Failure, Took: sessionTime(r), Transcript: r.Transcript,
		}
		rec.Size += r.Transcript.Footprint()
	}
	return rec
}

// dialledAddress is the IP address of an address:port a session dialled,
// in canonical form.
func dialledAddress(addrPort string) string {
	if ap, err := netip.ParseAddrPort(addrPort); err == nil {
		return ap.Addr().String()
	}
	return addrPort
}

// sessionTime is the time a session spent in its phases.
func sessionTime(r *probe.Result) time.Duration {
	var total time.Duration
	for _, d := range r.Phases {
		total += d
	}
	return total
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

// ServeHTTP lists recent probes, one row per endpoint, filtered by the
// query (see historyFilter), or with ?id=N shows one probe's transcript.
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
	h.servePage(w, r)
}
