package probe

import (
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

// buildAnswer collects the series of a finished probe.
func buildAnswer(results []*Result, duration time.Duration, now time.Time) *exposition.Answer {
	b := exposition.NewBuilder(2 + 48*len(results))
	b.Add(probeSuccessFamily, boolValue(probeSucceeded(results)), nil)
	b.Add(probeDurationFamily, duration.Seconds(), nil)
	for _, r := range results {
		collectEndpoint(newEndpointEmitter(b, r), r, now)
	}
	return b.Answer()
}

// endpointEmitter adds the series of one endpoint, each carrying its
// endpointLabels; the series without labels of their own share one slice.
type endpointEmitter struct {
	b      *exposition.Builder
	values []string // values of endpointLabels, in their order
	shared []string // the same in label-name order
}

func newEndpointEmitter(b *exposition.Builder, r *Result) *endpointEmitter {
	e := &endpointEmitter{b: b, values: endpointLabelValues(r)}
	e.shared = b.Labels(upFamily, e.values, nil)
	return e
}

// series adds one series of f; extra are the values of f's labels after
// the endpoint's, in declaration order.
func (e *endpointEmitter) series(f *exposition.Family, v float64, extra ...string) {
	if len(extra) == 0 {
		e.b.Add(f, v, e.shared)
		return
	}
	e.b.Add(f, v, e.b.Labels(f, e.values, extra))
}

// probeSucceeded: at least one endpoint, and every endpoint succeeded.
func probeSucceeded(results []*Result) bool {
	for _, r := range results {
		if !r.Success() {
			return false
		}
	}
	return len(results) > 0
}

// collectEndpoint emits the series of one endpoint.
func collectEndpoint(emit *endpointEmitter, r *Result, now time.Time) {
	emit.series(upFamily, boolValue(r.Up))
	emit.series(successFamily, boolValue(r.Success()))
	if r.IPProtocol != 0 {
		emit.series(ipProtocolFamily, float64(r.IPProtocol))
	}
	for p := range PhaseCount {
		emit.series(phaseFamily, r.Phases[p].Seconds(), p.String())
	}
	if r.HandshakeDone {
		emit.series(handshakeFamily, r.Handshake.Seconds())
	}
	emit.series(statusCodeFamily, float64(r.StatusCode))
	if r.Failure != nil {
		emit.series(failureFamily, 1, r.Failure.Phase.String(), r.Failure.Reason)
	}
	if r.Settings.TLS == config.TLSStartTLS && r.Up {
		emit.series(startTLSFamily, boolValue(r.StartTLSAdvertised))
	}
	emit.series(tlsFamily, boolValue(r.TLS))
	collectExtensions(emit, r)
	collectTLS(emit, r, now)
}

func collectExtensions(emit *endpointEmitter, r *Result) {
	for _, k := range r.Extensions.Registered() {
		emit.series(extensionFamily, 1, k)
	}
	if size, ok := r.Extensions.SizeLimit(); ok {
		emit.series(sizeLimitFamily, float64(size))
	}
	for _, offer := range []struct {
		mechanisms []string
		tls        string
	}{{r.AuthBeforeTLS, "false"}, {r.AuthAfterTLS, "true"}} {
		seen := map[string]bool{}
		for _, m := range offer.mechanisms {
			if label := smtpwire.MechanismLabel(m); !seen[label] {
				seen[label] = true
				emit.series(authMechanismFamily, 1, label, offer.tls)
			}
		}
	}
}

func collectTLS(emit *endpointEmitter, r *Result, now time.Time) {
	if st := r.TLSState; st != nil {
		emit.series(tlsVersionFamily, 1, tlsinspect.VersionName(st.Version))
		emit.series(tlsCipherFamily, 1, tlsinspect.CipherName(st.CipherSuite))
	}
	c := r.Cert
	if c == nil {
		return
	}
	leaf := c.Leaf()
	emit.series(certExpiryFamily, float64(leaf.NotAfter.Unix()))
	emit.series(certDaysFamily, leaf.NotAfter.Sub(now).Hours()/24)
	emit.series(earliestExpiryFamily, float64(c.EarliestExpiry().Unix()))
	emit.series(certVerifiedFamily, boolValue(c.Verified))
	emit.series(hostnameMatchFamily, boolValue(c.HostnameMatch))
	emit.series(chainInfoFamily, 1, c.Info...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
