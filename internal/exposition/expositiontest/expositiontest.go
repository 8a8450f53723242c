// Package expositiontest holds the exposition package's check against
// expfmt, for the tests of every package that builds answers.
package expositiontest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
)

// expfmtEncoding is the answer as expfmt writes its metric families: what
// the direct encoder must reproduce byte for byte.
func expfmtEncoding(t testing.TB, a *exposition.Answer, format expfmt.Format) string {
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

// AssertSameAsExpfmt fails t unless a, written in each text format the
// answer writes itself, is byte for byte what expfmt writes of a.Gather().
func AssertSameAsExpfmt(t testing.TB, a *exposition.Answer) {
	t.Helper()
	for name, format := range textFormats {
		got, err := a.Encode(nil, exposition.FormatOf(format))
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
