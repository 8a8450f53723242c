package probe

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition/expositiontest"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

func TestAnswerOfARealProbeEncodesAsExpfmtDoes(t *testing.T) {
	cert := smtptest.NewCA(t).Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
	tlsPort := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert), User: "u", Password: "p"}.Start(t)
	implicitPort := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert), Implicit: true}.Start(t)
	m := smtptest.ModuleFrom(t, fmt.Sprintf("ports:\n  - {port: %d, tls: starttls}\n  - {port: %d, tls: implicit}\n  - {port: %d, tls: none}\n",
		tlsPort, implicitPort, smtptest.ClosedPort(t)))
	p := &Prober{Resolver: staticResolver(t, nil)}
	target, _ := ParseTarget("127.0.0.1")
	results := p.Probe(t.Context(), m, p.Endpoints(t.Context(), target, m))
	a := answerOf(results, 1234567*time.Microsecond, time.Now())
	if a.Len() < 60 {
		t.Fatalf("only %d series in a 3-port answer", a.Len())
	}
	expositiontest.AssertSameAsExpfmt(t, a)
}

// TestGaugeNamesNeedNoEscaping backs AppendText's shortcut: with legacy
// names, no escaping scheme a scraper asks for changes a name.
func TestGaugeNamesNeedNoEscaping(t *testing.T) {
	if len(Families()) < 20 {
		t.Fatalf("only %d families declared", len(Families()))
	}
	for _, f := range Families() {
		if !model.LegacyValidation.IsValidMetricName(f.Name()) {
			t.Errorf("%q is not a legacy metric name", f.Name())
		}
		for _, l := range f.LabelNames() {
			if !model.LegacyValidation.IsValidLabelName(l) {
				t.Errorf("%s: label %q is not a legacy label name", f.Name(), l)
			}
		}
	}
}
