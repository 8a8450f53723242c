package exposition

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Answer is the series of one probe, sorted as the exposition formats list
// them: by metric name, then by label values in label-name order. It is
// written straight to the text formats, the ones Prometheus asks for, and
// turned into metric families only for the protobuf formats and for
// prometheus.Gatherer users (tests). An Answer is immutable once built.
type Answer struct {
	samples []sample
}

// sample is one series: a gauge, its label values and its value.
type sample struct {
	family *Family
	labels []string // values in family.order, that is label-name order
	value  float64
}

// Builder collects the samples of an answer. Label values come from an
// arena that grows by starting a new array: slices into an outgrown one
// stay valid, so an answer costs a handful of allocations, not one per
// series.
type Builder struct {
	samples []sample
	values  []string
}

// NewBuilder returns a builder with room for capacity samples.
func NewBuilder(capacity int) *Builder {
	return &Builder{samples: make([]sample, 0, capacity)}
}

// Add adds one series of f. labels are its values in label-name order, as
// Labels returns them (nil for a family without labels); families with the
// same label names may share one such slice.
func (b *Builder) Add(f *Family, v float64, labels []string) {
	b.samples = append(b.samples, sample{family: f, labels: labels, value: v})
}

// Labels returns the values of f's labels, head then tail in declaration
// order, rearranged in label-name order in the builder's arena.
func (b *Builder) Labels(f *Family, head, tail []string) []string {
	if n := len(f.labels); cap(b.values)-len(b.values) < n {
		b.values = make([]string, 0, max(64, n))
	}
	start := len(b.values)
	for _, i := range f.order {
		if i < len(head) {
			b.values = append(b.values, head[i])
		} else {
			b.values = append(b.values, tail[i-len(head)])
		}
	}
	return b.values[start:len(b.values):len(b.values)]
}

// Answer sorts the samples added and returns them as an Answer; the
// builder is not used afterwards.
func (b *Builder) Answer() *Answer {
	slices.SortFunc(b.samples, compareSamples)
	return &Answer{samples: b.samples}
}

// With returns a new answer: a's series and one more of f, a family
// without labels. a is not changed.
func (a *Answer) With(f *Family, v float64) *Answer {
	s := sample{family: f, value: v}
	i, _ := slices.BinarySearchFunc(a.samples, s, compareSamples)
	return &Answer{samples: slices.Insert(slices.Clone(a.samples), i, s)}
}

func compareSamples(a, b sample) int {
	if a.family != b.family {
		return cmp.Compare(a.family.name, b.family.name)
	}
	return slices.Compare(a.labels, b.labels)
}

// Format is how an answer is written in one exposition format.
type Format struct {
	format      expfmt.Format // also the Content-Type
	direct      bool          // written by AppendText, not through expfmt
	openMetrics bool
}

// FormatOf returns how an answer is written in f, as negotiated with
// expfmt.NegotiateIncludingOpenMetrics.
func FormatOf(f expfmt.Format) Format {
	switch {
	case f.FormatType() == expfmt.TypeTextPlain:
		return Format{format: f, direct: true}
	case f.FormatType() == expfmt.TypeOpenMetrics &&
		(f.Version() == expfmt.OpenMetricsVersion_1_0_0 || f.Version() == expfmt.OpenMetricsVersion_0_0_1):
		return Format{format: f, direct: true, openMetrics: true}
	}
	return Format{format: f}
}

// Expfmt returns the format as expfmt names it; as a string, it is the
// Content-Type of the answer.
func (f Format) Expfmt() expfmt.Format { return f.format }

// Encode appends the answer to dst in format f.
func (a *Answer) Encode(dst []byte, f Format) ([]byte, error) {
	if f.direct {
		return a.AppendText(dst, f.openMetrics), nil
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

// AppendText appends the answer in the Prometheus text format 0.0.4 or, with
// openMetrics, in OpenMetrics 1.0, byte for byte as expfmt writes them. All
// metric and label names are valid legacy names (a test checks), so no
// name escaping scheme changes them.
func (a *Answer) AppendText(dst []byte, openMetrics bool) []byte {
	var family *Family
	for _, s := range a.samples {
		if s.family != family {
			family = s.family
			if openMetrics {
				dst = append(dst, family.openMetricsHeader...)
			} else {
				dst = append(dst, family.textHeader...)
			}
		}
		dst = append(dst, s.family.name...)
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
	for j, i := range s.family.order {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, s.family.labels[i]...)
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

// Gather returns the answer as metric families, making it a
// prometheus.Gatherer: for the protobuf formats and for tests.
func (a *Answer) Gather() ([]*dto.MetricFamily, error) {
	var out []*dto.MetricFamily
	for _, s := range a.samples {
		if len(out) == 0 || out[len(out)-1].GetName() != s.family.name {
			out = append(out, &dto.MetricFamily{Name: &s.family.name, Help: &s.family.help, Type: dto.MetricType_GAUGE.Enum()})
		}
		m := &dto.Metric{Gauge: &dto.Gauge{Value: &s.value}}
		for j, i := range s.family.order {
			m.Label = append(m.Label, &dto.LabelPair{Name: &s.family.labels[i], Value: &s.labels[j]})
		}
		mf := out[len(out)-1]
		mf.Metric = append(mf.Metric, m)
	}
	return out, nil
}

// Footprint estimates the bytes the answer holds: a fixed cost per sample
// and its label values.
func (a *Answer) Footprint() int {
	n := 0
	for _, s := range a.samples {
		n += sampleOverhead
		for _, v := range s.labels {
			n += len(v)
		}
	}
	return n
}

// sampleOverhead approximates a sample's fixed cost, in bytes.
const sampleOverhead = 48

// Len returns the number of samples.
func (a *Answer) Len() int { return len(a.samples) }
