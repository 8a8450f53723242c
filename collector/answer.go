package collector

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// answer is the series of one probe, sorted as the exposition formats list
// them: by metric name, then by label values in label-name order. It is
// written straight to the text formats, the ones Prometheus asks for, and
// turned into metric families only for the protobuf formats and for
// prometheus.Gatherer users (tests). Building dto families for every probe
// allocated more than the rest of the answer and kept /history's records
// pointer-heavy for the garbage collector.
type answer struct {
	samples []sample
}

// sample is one series: a gauge, its label values and its value.
type sample struct {
	def    *gaugeDef
	labels []string // values in def.order, that is label-name order
	value  float64
}

// buildAnswer collects the series of a finished probe.
func buildAnswer(results []*Result, duration time.Duration, now time.Time) *answer {
	b := &answerBuilder{samples: make([]sample, 0, 2+48*len(results))}
	b.add(probeSuccessDesc, boolValue(probeSucceeded(results)), nil)
	b.add(probeDurationDesc, duration.Seconds(), nil)
	for _, r := range results {
		collectEndpoint(b.endpoint(r), r, now)
	}
	slices.SortFunc(b.samples, compareSamples)
	return &answer{samples: b.samples}
}

func compareSamples(a, b sample) int {
	if a.def != b.def {
		return cmp.Compare(a.def.name, b.def.name)
	}
	return slices.Compare(a.labels, b.labels)
}

// answerBuilder collects samples. Label values come from an arena that
// grows by starting a new array: slices into an outgrown one stay valid, so
// an answer costs a handful of allocations, not one per series.
type answerBuilder struct {
	samples []sample
	values  []string
}

func (b *answerBuilder) add(def *gaugeDef, v float64, labels []string) {
	b.samples = append(b.samples, sample{def: def, labels: labels, value: v})
}

// endpoint returns the emitter of r's series.
func (b *answerBuilder) endpoint(r *Result) *endpointEmitter {
	e := &endpointEmitter{b: b, values: []string{r.Host, strconv.Itoa(r.Port)}} // as endpointLabels
	e.shared = e.labelValues(upDesc, nil)
	return e
}

// endpointEmitter adds the series of one endpoint, each carrying its
// endpointLabels; the series without labels of their own share one slice.
type endpointEmitter struct {
	b      *answerBuilder
	values []string // values of endpointLabels, in their order
	shared []string // the same in label-name order
}

// series adds one series of def; extra are the values of def's labels after
// the endpoint's, in declaration order.
func (e *endpointEmitter) series(def *gaugeDef, v float64, extra ...string) {
	if len(extra) == 0 {
		e.b.add(def, v, e.shared)
		return
	}
	e.b.add(def, v, e.labelValues(def, extra))
}

// labelValues returns the values of def's labels in label-name order: the
// endpoint's, then extra.
func (e *endpointEmitter) labelValues(def *gaugeDef, extra []string) []string {
	b := e.b
	if n := len(def.labels); cap(b.values)-len(b.values) < n {
		b.values = make([]string, 0, max(64, n))
	}
	start := len(b.values)
	for _, i := range def.order {
		if i < len(e.values) {
			b.values = append(b.values, e.values[i])
		} else {
			b.values = append(b.values, extra[i-len(e.values)])
		}
	}
	return b.values[start:len(b.values):len(b.values)]
}

// Escaping of the text formats: HELP escapes backslash and newline (and
// double quote in OpenMetrics), label values all three.
var (
	helpEscaper   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	quotedEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// answerFormat is how an answer is written in one exposition format.
type answerFormat struct {
	format      expfmt.Format // also the Content-Type
	direct      bool          // written by appendText, not through expfmt
	openMetrics bool
}

func formatOf(f expfmt.Format) answerFormat {
	switch {
	case f.FormatType() == expfmt.TypeTextPlain:
		return answerFormat{format: f, direct: true}
	case f.FormatType() == expfmt.TypeOpenMetrics &&
		(f.Version() == expfmt.OpenMetricsVersion_1_0_0 || f.Version() == expfmt.OpenMetricsVersion_0_0_1):
		return answerFormat{format: f, direct: true, openMetrics: true}
	}
	return answerFormat{format: f}
}

// negotiate picks the answer's format for an Accept header, as
// expfmt.NegotiateIncludingOpenMetrics does. The choice is cached per
// header value: Prometheus sends the same one on every scrape, and parsing
// it cost more than writing the answer.
func negotiate(accept string) answerFormat {
	return formatCache.get(accept, func() answerFormat {
		return formatOf(expfmt.NegotiateIncludingOpenMetrics(http.Header{"Accept": {accept}}))
	})
}

const formatCacheSize = 64

var formatCache = newBoundedCache[string, answerFormat](formatCacheSize)

// encode appends the answer to dst in format f.
func (a *answer) encode(dst []byte, f answerFormat) ([]byte, error) {
	if f.direct {
		return a.appendText(dst, f.openMetrics), nil
	}
	buf := bytes.NewBuffer(dst)
	enc := expfmt.NewEncoder(buf, f.format)
	families, _ := a.Gather()
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return dst, fmt.Errorf("encoding %s: %w", mf.GetName(), err)
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		if err := closer.Close(); err != nil {
			return dst, fmt.Errorf("finishing the answer: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// appendText appends the answer in the Prometheus text format 0.0.4 or, with
// openMetrics, in OpenMetrics 1.0, byte for byte as expfmt writes them. All
// metric and label names are valid legacy names (a test checks), so no
// name escaping scheme changes them.
func (a *answer) appendText(dst []byte, openMetrics bool) []byte {
	var family *gaugeDef
	for _, s := range a.samples {
		if s.def != family {
			family = s.def
			if openMetrics {
				dst = append(dst, family.openMetricsHeader...)
			} else {
				dst = append(dst, family.textHeader...)
			}
		}
		dst = append(dst, s.def.name...)
		if len(s.labels) > 0 {
			dst = appendLabels(dst, s)
		}
		dst = append(dst, ' ')
		dst = appendValue(dst, s.value, openMetrics)
		dst = append(dst, '\n')
	}
	if openMetrics {
		dst = append(dst, "# EOF\n"...)
	}
	return dst
}

func appendLabels(dst []byte, s sample) []byte {
	dst = append(dst, '{')
	for j, i := range s.def.order {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, s.def.labels[i]...)
		dst = append(dst, '=', '"')
		if needsEscaping(s.labels[j]) {
			dst = append(dst, quotedEscaper.Replace(s.labels[j])...)
		} else {
			dst = append(dst, s.labels[j]...)
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func needsEscaping(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || c == '"' {
			return true
		}
	}
	return false
}

// appendValue writes v as expfmt does: the shortest repr, with special
// cases for 0, ±1 and the non-finite values, and in OpenMetrics always with
// a decimal point or exponent.
func appendValue(dst []byte, v float64, openMetrics bool) []byte {
	switch {
	case v == 1 || v == 0 || v == -1:
		dst = strconv.AppendInt(dst, int64(v), 10)
		if openMetrics {
			dst = append(dst, ".0"...)
		}
		return dst
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, +1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
	if openMetrics && !bytes.ContainsAny(dst[start:], "e.") {
		dst = append(dst, ".0"...)
	}
	return dst
}

var gaugeType = dto.MetricType_GAUGE

// Gather returns the answer as metric families, making it a
// prometheus.Gatherer: for the protobuf formats and for tests.
func (a *answer) Gather() ([]*dto.MetricFamily, error) {
	var out []*dto.MetricFamily
	for _, s := range a.samples {
		if len(out) == 0 || out[len(out)-1].GetName() != s.def.name {
			out = append(out, &dto.MetricFamily{Name: &s.def.name, Help: &s.def.help, Type: &gaugeType})
		}
		m := &dto.Metric{Gauge: &dto.Gauge{Value: &s.value}}
		for j, i := range s.def.order {
			m.Label = append(m.Label, &dto.LabelPair{Name: &s.def.labels[i], Value: &s.labels[j]})
		}
		mf := out[len(out)-1]
		mf.Metric = append(mf.Metric, m)
	}
	return out, nil
}
