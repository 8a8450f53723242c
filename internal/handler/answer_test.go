package handler

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
)

func TestNegotiateMatchesExpfmt(t *testing.T) {
	aw := newAnswerWriter()
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
			if got := aw.negotiate(accept).Expfmt(); got != want {
				t.Errorf("Accept %q: %q, want %q", accept, got, want)
			}
		}
	}
	for i := range 3 * formatCacheSize {
		aw.negotiate(fmt.Sprintf("text/plain;x=%d", i))
	}
	if n := aw.formats.Len(); n > formatCacheSize {
		t.Errorf("format cache holds %d entries, bound %d", n, formatCacheSize)
	}
}
