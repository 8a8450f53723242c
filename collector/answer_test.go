package collector

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// expfmtEncoding is the answer as expfmt writes its metric families: what
// the direct encoder must reproduce byte for byte.
func expfmtEncoding(t *testing.T, a *answer, format expfmt.Format) string {
	t.Helper()
	families, err := a.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("expfmt: %v", err)
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		closer.Close()
	}
	return buf.String()
}

// textFormats are the formats the answer writes itself, as the handler
// negotiates them for Prometheus and for clients without Accept.
var textFormats = map[string]expfmt.Format{
	"text 0.0.4":          expfmt.FmtText,
	"OpenMetrics 1.0.0":   expfmt.FmtOpenMetrics_1_0_0,
	"OpenMetrics 0.0.1":   expfmt.FmtOpenMetrics_0_0_1,
	"text, underscores":   expfmt.FmtText.WithEscapingScheme(model.UnderscoreEscaping),
	"OpenMetrics, values": expfmt.FmtOpenMetrics_1_0_0.WithEscapingScheme(model.ValueEncodingEscaping),
}

func assertSameAsExpfmt(t *testing.T, a *answer) {
	t.Helper()
	for name, format := range textFormats {
		got, err := a.encode(nil, formatOf(format))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := expfmtEncoding(t, a, format); string(got) != want {
			t.Errorf("%s differs from expfmt's encoding:\n%s", name, lineDiff(want, string(got)))
		}
	}
}

// lineDiff shows the first line where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %q\n got  %q", i+1, wl, gl)
		}
	}
	return "(same lines)"
}

func TestAnswerOfARealProbeEncodesAsExpfmtDoes(t *testing.T) {
	cert := newTestCA(t).issue(t, certSpec{names: []string{"127.0.0.1"}})
	tlsPort := goSMTPServer{tls: serverTLS(cert), user: "u", password: "p"}.start(t)
	implicitPort := goSMTPServer{tls: serverTLS(cert), implicit: true}.start(t)
	m := moduleFrom(t, fmt.Sprintf("ports:\n  - {port: %d, tls: starttls}\n  - {port: %d, tls: implicit}\n  - {port: %d, tls: none}\n",
		tlsPort, implicitPort, closedPort(t)))
	p := &Prober{Resolver: staticResolver{}}
	target, _ := ParseTarget("127.0.0.1")
	results := p.Probe(t.Context(), m, p.Endpoints(t.Context(), target, m))
	a := buildAnswer(results, 1234567*time.Microsecond, time.Now())
	if len(a.samples) < 60 {
		t.Fatalf("only %d series in a 3-port answer", len(a.samples))
	}
	assertSameAsExpfmt(t, a)
}

// TestAnswerEscapesAsExpfmtDoes feeds label values and numbers that need
// care: quotes, backslashes, newlines, non-ASCII, and every kind of float.
func TestAnswerEscapesAsExpfmtDoes(t *testing.T) {
	b := &answerBuilder{}
	e := b.endpoint(&Result{Host: `we"ird\host`, Port: 25})
	e.series(chainInfoDesc, 1, `CN=a\b`, "new\nline", `q"uote`, "ünïcödé ✓", "")
	e.series(tlsCipherDesc, 0, `\"\n`)
	e.series(failureDesc, -1, "", "")
	for i, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -3.25, 1e21, 1e-7, 1700000000, 123456789012,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 10485760, 2.5e-320} {
		e.series(extensionDesc, v, fmt.Sprintf("X%02d", i))
	}
	assertSameAsExpfmt(t, &answer{samples: b.samples})
}

func TestAnswerFloatsMatchExpfmt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := &answerBuilder{}
	e := b.endpoint(&Result{Host: "mx.test", Port: 25})
	for i := range 2000 {
		v := math.Float64frombits(rng.Uint64())
		if i%2 == 0 { // values of the size probes report
			v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(24)-8))
		}
		e.series(extensionDesc, v, fmt.Sprintf("X%04d", i))
	}
	assertSameAsExpfmt(t, &answer{samples: b.samples})
}

// TestGaugeNamesNeedNoEscaping backs appendText's shortcut: with legacy
// names, no escaping scheme a scraper asks for changes a name.
func TestGaugeNamesNeedNoEscaping(t *testing.T) {
	if len(gauges) < 20 {
		t.Fatalf("only %d gauges declared", len(gauges))
	}
	for _, g := range gauges {
		if !model.LegacyValidation.IsValidMetricName(g.name) {
			t.Errorf("%q is not a legacy metric name", g.name)
		}
		for _, l := range g.labels {
			if !model.LegacyValidation.IsValidLabelName(l) {
				t.Errorf("%s: label %q is not a legacy label name", g.name, l)
			}
		}
	}
}

func TestAnswerProtobufGoesThroughExpfmt(t *testing.T) {
	b := &answerBuilder{}
	b.add(probeSuccessDesc, 1, nil)
	b.endpoint(&Result{Host: "mx.test", Port: 587}).series(tlsVersionDesc, 1, "TLS 1.3")
	a := &answer{samples: b.samples}
	body, err := a.encode(nil, negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"))
	if err != nil {
		t.Fatal(err)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.NewFormat(expfmt.TypeProtoDelim))
	var names []string
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		names = append(names, mf.GetName())
	}
	if strings.Join(names, ",") != "probe_success,probe_tls_version_info" {
		t.Errorf("protobuf answer has families %q", names)
	}
}

func TestNegotiateMatchesExpfmt(t *testing.T) {
	for _, accept := range []string{
		"",
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
		"text/plain",
		"text/plain;version=0.0.4;escaping=underscores",
		"application/openmetrics-text;version=2.0.0",
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
		"*/*",
		"garbage;;;,=",
	} {
		want := expfmt.NegotiateIncludingOpenMetrics(http.Header{"Accept": {accept}})
		for range 2 { // computed, then cached
			if got := negotiate(accept).format; got != want {
				t.Errorf("Accept %q: %q, want %q", accept, got, want)
			}
		}
	}
	for i := range 3 * formatCacheSize {
		negotiate(fmt.Sprintf("text/plain;x=%d", i))
	}
	if n := formatCache.len(); n > formatCacheSize {
		t.Errorf("format cache holds %d entries, bound %d", n, formatCacheSize)
	}
}
