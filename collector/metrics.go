package collector

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// gaugeDef declares one gauge: its name, help and label names.
type gaugeDef struct {
	name   string
	help   string
	labels []string
	order  []int // label indexes in name order, as the exposition sorts them
}

func newGauge(name, help string, labels ...string) *gaugeDef {
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(labels[a], labels[b]) })
	return &gaugeDef{name: name, help: help, labels: labels, order: order}
}

// Label names shared by every endpoint series; built in one place so that
// later labels (ip, mx) are added once.
var endpointLabels = []string{"host", "port"}

func endpointDesc(name, help string, extra ...string) *gaugeDef {
	return newGauge(name, help, append(append([]string(nil), endpointLabels...), extra...)...)
}

// The series of one probe, declared in one place.
var (
	probeSuccessDesc = newGauge("probe_success",
		"Whether the probe found at least one endpoint and every endpoint succeeded.")
	probeDurationDesc = newGauge("probe_duration_seconds",
		"How long the whole probe took, in seconds.")

	upDesc = endpointDesc("probe_smtp_up",
		"Whether the endpoint answered as an SMTP server: connected, TLS done on implicit ports, a 220 greeting and a 250 to EHLO or HELO.")
	successDesc = endpointDesc("probe_smtp_success",
		"Whether the endpoint is up and met every expectation of the module.")
	ipProtocolDesc = endpointDesc("probe_ip_protocol",
		"The IP family dialled: 4 or 6.")
	phaseDesc = endpointDesc("probe_smtp_duration_seconds",
		"Time spent in each phase of the SMTP session, in seconds; 0 when the phase was skipped.", "phase")
	handshakeDesc = endpointDesc("probe_smtp_handshake_seconds",
		"Time from connect start to the 250 reply to the last EHLO, in seconds.")
	statusCodeDesc = endpointDesc("probe_smtp_status_code",
		"The last SMTP reply code before QUIT on success, the failing reply code on a reply failure, else 0.")
	failureDesc = endpointDesc("probe_smtp_failure_info",
		"Why the endpoint failed: the phase and reason of the first failure.", "phase", "reason")
	startTLSDesc = endpointDesc("probe_smtp_starttls_advertised",
		"Whether the first EHLO reply advertised STARTTLS.")
	tlsDesc = endpointDesc("probe_smtp_tls",
		"Whether the SMTP session ran under TLS.")
	extensionDesc = endpointDesc("probe_smtp_extension_info",
		"An IANA-registered SMTP service extension advertised in the final EHLO reply.", "extension")
	sizeLimitDesc = endpointDesc("probe_smtp_size_limit_bytes",
		"The message size limit advertised with the SIZE extension, in bytes.")
	authMechanismDesc = endpointDesc("probe_smtp_auth_mechanism_info",
		"An AUTH mechanism offered before TLS (tls=\"false\") or under TLS (tls=\"true\").", "mechanism", "tls")
	tlsVersionDesc = endpointDesc("probe_tls_version_info",
		"The negotiated TLS version.", "version")
	tlsCipherDesc = endpointDesc("probe_tls_cipher_info",
		"The negotiated TLS cipher suite.", "cipher")
	certExpiryDesc = endpointDesc("probe_smtp_cert_expiry_timestamp_seconds",
		"When the leaf certificate expires (its NotAfter), as a Unix timestamp.")
	certDaysDesc = endpointDesc("probe_smtp_cert_days_until_expiry",
		"Days until the leaf certificate expires; negative once it has expired.")
	earliestExpiryDesc = endpointDesc("probe_ssl_earliest_cert_expiry",
		"The earliest NotAfter of the served certificate chain, as a Unix timestamp.")
	certVerifiedDesc = endpointDesc("probe_smtp_cert_verified",
		"Whether the served chain verifies to the configured or system roots.")
	hostnameMatchDesc = endpointDesc("probe_smtp_cert_hostname_match",
		"Whether the leaf certificate is valid for the probed host name or the configured server name.")
	chainInfoDesc = endpointDesc("probe_ssl_last_chain_info",
		"Details of the leaf certificate.", "subject", "issuer", "serialnumber", "fingerprint_sha256", "subjectalternative")
)

// probeMetrics is the answer to one probe: a prometheus.Gatherer that builds
// the metric families straight from the results. It replaces a registry
// per request, whose checks and hashing cost more than the rest of the
// answer; the families are built once and thrown away.
type probeMetrics struct {
	results  []*Result
	duration time.Duration
	now      time.Time
}

// Gather returns the probe's families sorted by name, their series sorted by
// label values.
func (p *probeMetrics) Gather() ([]*dto.MetricFamily, error) {
	b := &familyBuilder{byDef: map[*gaugeDef]*dto.MetricFamily{}}
	b.add(probeSuccessDesc, boolValue(probeSucceeded(p.results)), nil)
	b.add(probeDurationDesc, p.duration.Seconds(), nil)
	for _, r := range p.results {
		collectEndpoint(b.endpoint(r), r, p.now)
	}
	return b.families(), nil
}

// familyBuilder collects gauges into metric families. Series, label pairs
// and label values come from arenas that grow by appending: a pointer into
// an outgrown array stays valid, so an answer costs a few dozen
// allocations, not several per series.
type familyBuilder struct {
	byDef  map[*gaugeDef]*dto.MetricFamily
	series []gaugeSeries
	pairs  []dto.LabelPair
	labels []*dto.LabelPair
	values []string
}

// gaugeSeries is one series with its gauge and value in one allocation.
type gaugeSeries struct {
	metric dto.Metric
	gauge  dto.Gauge
	value  float64
}

var gaugeType = dto.MetricType_GAUGE

// add appends one series of def carrying labels.
func (b *familyBuilder) add(def *gaugeDef, v float64, labels []*dto.LabelPair) {
	mf := b.byDef[def]
	if mf == nil {
		mf = &dto.MetricFamily{Name: &def.name, Help: &def.help, Type: &gaugeType}
		b.byDef[def] = mf
	}
	if len(b.series) == cap(b.series) {
		b.series = make([]gaugeSeries, 0, 32)
	}
	b.series = append(b.series, gaugeSeries{value: v})
	s := &b.series[len(b.series)-1]
	s.gauge.Value = &s.value
	s.metric.Gauge, s.metric.Label = &s.gauge, labels
	mf.Metric = append(mf.Metric, &s.metric)
}

// labelPairs returns def's label pairs for values, in label-name order.
func (b *familyBuilder) labelPairs(def *gaugeDef, values ...string) []*dto.LabelPair {
	if n := len(values); cap(b.values)-len(b.values) < n || cap(b.pairs)-len(b.pairs) < n || cap(b.labels)-len(b.labels) < n {
		b.values, b.pairs, b.labels = make([]string, 0, 48), make([]dto.LabelPair, 0, 48), make([]*dto.LabelPair, 0, 48)
	}
	start := len(b.labels)
	for _, i := range def.order {
		b.values = append(b.values, values[i])
		b.pairs = append(b.pairs, dto.LabelPair{Name: &def.labels[i], Value: &b.values[len(b.values)-1]})
		b.labels = append(b.labels, &b.pairs[len(b.pairs)-1])
	}
	return b.labels[start:len(b.labels):len(b.labels)]
}

// endpoint returns an emit function that adds the endpoint's labels; the
// series without labels of their own share one label slice.
func (b *familyBuilder) endpoint(r *Result) emitFunc {
	host, port := r.Host, strconv.Itoa(r.Port)
	shared := b.labelPairs(upDesc, host, port)
	return func(def *gaugeDef, v float64, extra ...string) {
		if len(extra) == 0 {
			b.add(def, v, shared)
			return
		}
		b.add(def, v, b.labelPairs(def, append([]string{host, port}, extra...)...))
	}
}

func (b *familyBuilder) families() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(b.byDef))
	for _, mf := range b.byDef {
		slices.SortStableFunc(mf.Metric, compareLabelValues)
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return out
}

func compareLabelValues(a, b *dto.Metric) int {
	for i := range min(len(a.Label), len(b.Label)) {
		if c := cmp.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Label), len(b.Label))
}

// emitFunc adds one series of an endpoint.
type emitFunc func(def *gaugeDef, v float64, extra ...string)

// probeSucceeded: at least one endpoint, and every endpoint succeeded.
func probeSucceeded(results []*Result) bool {
	for _, r := range results {
		if !r.Success() {
			return false
		}
	}
	return len(results) > 0
}

func collectEndpoint(emit emitFunc, r *Result, now time.Time) {
	emit(upDesc, boolValue(r.Up))
	emit(successDesc, boolValue(r.Success()))
	if r.IPProtocol != 0 {
		emit(ipProtocolDesc, float64(r.IPProtocol))
	}
	for p := range phaseCount {
		emit(phaseDesc, r.Phases[p].Seconds(), p.String())
	}
	if r.HandshakeDone {
		emit(handshakeDesc, r.Handshake.Seconds())
	}
	emit(statusCodeDesc, float64(r.StatusCode))
	if r.Failure != nil {
		emit(failureDesc, 1, r.Failure.Phase.String(), r.Failure.Reason)
	}
	if r.Settings.TLS == config.TLSStartTLS && r.Up {
		emit(startTLSDesc, boolValue(r.StartTLSAdvertised))
	}
	emit(tlsDesc, boolValue(r.TLS))
	collectExtensions(emit, r)
	collectTLS(emit, r, now)
}

func collectExtensions(emit emitFunc, r *Result) {
	for _, k := range r.Extensions.Registered() {
		emit(extensionDesc, 1, k)
	}
	if size, ok := r.Extensions.SizeLimit(); ok {
		emit(sizeLimitDesc, float64(size))
	}
	for _, offer := range []struct {
		mechanisms []string
		tls        string
	}{{r.AuthBeforeTLS, "false"}, {r.AuthAfterTLS, "true"}} {
		seen := map[string]bool{}
		for _, m := range offer.mechanisms {
			if label := mechanismLabel(m); !seen[label] {
				seen[label] = true
				emit(authMechanismDesc, 1, label, offer.tls)
			}
		}
	}
}

func collectTLS(emit emitFunc, r *Result, now time.Time) {
	if st := r.TLSState; st != nil {
		emit(tlsVersionDesc, 1, tlsVersionName(st.Version))
		emit(tlsCipherDesc, 1, cipherName(st.CipherSuite))
	}
	c := r.Cert
	if c == nil {
		return
	}
	leaf := c.Leaf()
	emit(certExpiryDesc, float64(leaf.NotAfter.Unix()))
	emit(certDaysDesc, leaf.NotAfter.Sub(now).Hours()/24)
	emit(earliestExpiryDesc, float64(c.EarliestExpiry().Unix()))
	emit(certVerifiedDesc, boolValue(c.Verified))
	emit(hostnameMatchDesc, boolValue(c.HostnameMatch))
	emit(chainInfoDesc, 1, chainInfo(leaf)...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
