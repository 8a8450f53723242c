package exposition_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition/expositiontest"
)

// Families shaped like the probe's: label values that need escaping go
// through them.
var (
	success   = exposition.NewFamily("probe_success", "Whether the probe succeeded.")
	chainInfo = exposition.NewFamily("probe_ssl_last_chain_info", "Details of the leaf certificate.",
		"host", "port", "subject", "issuer", "serialnumber", "fingerprint_sha256", "subjectalternative")
	cipher    = exposition.NewFamily("probe_tls_cipher_info", "The negotiated TLS cipher suite.", "host", "port", "cipher")
	version   = exposition.NewFamily("probe_tls_version_info", "The negotiated TLS version.", "host", "port", "version")
	failure   = exposition.NewFamily("probe_smtp_failure_info", "Why the \"endpoint\" failed.\nA second line.", "host", "port", "phase", "reason")
	extension = exposition.NewFamily("probe_smtp_extension_info", "An extension.", "host", "port", "extension")
)

// TestAnswerEscapesAsExpfmtDoes feeds label values and numbers that need
// care: quotes, backslashes, newlines, non-ASCII, and every kind of float.
func TestAnswerEscapesAsExpfmtDoes(t *testing.T) {
	b := exposition.NewBuilder(0)
	endpoint := []string{`we"ird\host`, "25"}
	b.Add(chainInfo, 1, b.Labels(chainInfo, endpoint, []string{`CN=a\b`, "new\nline", `q"uote`, "ünïcödé ✓", ""}))
	b.Add(cipher, 0, b.Labels(cipher, endpoint, []string{`\"\n`}))
	b.Add(failure, -1, b.Labels(failure, endpoint, []string{"", ""}))
	for i, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -3.25, 1e21, 1e-7, 1700000000, 123456789012,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 10485760, 2.5e-320} {
		b.Add(extension, v, b.Labels(extension, endpoint, []string{fmt.Sprintf("X%02d", i)}))
	}
	expositiontest.AssertSameAsExpfmt(t, b.Answer())
}

func TestAnswerFloatsMatchExpfmt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := exposition.NewBuilder(0)
	for i := range 2000 {
		v := math.Float64frombits(rng.Uint64())
		if i%2 == 0 { // values of the size probes report
			v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(24)-8))
		}
		b.Add(extension, v, b.Labels(extension, []string{"mx.test", "25"}, []string{fmt.Sprintf("X%04d", i)}))
	}
	expositiontest.AssertSameAsExpfmt(t, b.Answer())
}

func TestAnswerProtobufGoesThroughExpfmt(t *testing.T) {
	b := exposition.NewBuilder(0)
	b.Add(success, 1, nil)
	b.Add(version, 1, b.Labels(version, []string{"mx.test", "587"}, []string{"TLS 1.3"}))
	accept := "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	format := exposition.FormatOf(expfmt.NegotiateIncludingOpenMetrics(http.Header{"Accept": {accept}}))
	body, err := b.Answer().Encode(nil, format)
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
