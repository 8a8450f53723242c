package handler

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/common/expfmt"

	"github.com/smtp-exporter/smtp_exporter/internal/boundedcache"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
)

// answerWriter sends answers in the format each scraper asks for. It keeps
// the format chosen per Accept value (Prometheus sends the same one on
// every scrape, and parsing it costs more than writing the answer) and
// reuses buffers across answers: encoding is quick, so a few buffers serve
// a thousand probes finishing at once.
type answerWriter struct {
	formats *boundedcache.Cache[string, exposition.Format]
	buffers *sync.Pool
}

// formatCacheSize bounds the Accept values remembered.
const formatCacheSize = 64

func newAnswerWriter() answerWriter {
	return answerWriter{
		formats: boundedcache.New[string, exposition.Format](formatCacheSize),
		buffers: &sync.Pool{New: func() any { return new([]byte) }},
	}
}

// negotiate picks the answer's format for an Accept header value, as
// expfmt.NegotiateIncludingOpenMetrics does.
func (aw answerWriter) negotiate(accept string) exposition.Format {
	return aw.formats.Get(accept, func() exposition.Format {
		return exposition.FormatOf(expfmt.NegotiateIncludingOpenMetrics(http.Header{"Accept": {accept}}))
	})
}

// write sends the probe's series in the format the scraper asked for, in
// one write with a Content-Length. Uncompressed: the answer is a few KiB,
// and setting up gzip for each one costs more CPU than building it.
func (aw answerWriter) write(w http.ResponseWriter, r *http.Request, a *exposition.Answer) {
	format := aw.negotiate(r.Header.Get("Accept"))
	buf := aw.buffers.Get().(*[]byte)
	defer aw.buffers.Put(buf)
	body, err := a.Encode((*buf)[:0], format)
	*buf = body
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(format.Expfmt()))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
