package collector

import (
	"cmp"
	"slices"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// gaugeDef declares one gauge: its name, help and label names.
type gaugeDef struct {
	name   string
	help   string
	labels []string
	order  []int // label indexes in name order, as the exposition sorts them

	// The family's "# HELP" and "# TYPE" lines in the text format and in
	// OpenMetrics, which also escapes double quotes in HELP.
	textHeader, openMetricsHeader string
}

// gauges lists every gauge declared, for tests.
var gauges []*gaugeDef

func newGauge(name, help string, labels ...string) *gaugeDef {
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(labels[a], labels[b]) })
	g := &gaugeDef{
		name: name, help: help, labels: labels, order: order,
		textHeader:        "# HELP " + name + " " + helpEscaper.Replace(help) + "\n# TYPE " + name + " gauge\n",
		openMetricsHeader: "# HELP " + name + " " + quotedEscaper.Replace(help) + "\n# TYPE " + name + " gauge\n",
	}
	gauges = append(gauges, g)
	return g
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

// probeSucceeded: at least one endpoint, and every endpoint succeeded.
func probeSucceeded(results []*Result) bool {
	for _, r := range results {
		if !r.Success() {
			return false
		}
	}
	return len(results) > 0
}

func collectEndpoint(emit *endpointEmitter, r *Result, now time.Time) {
	emit.series(upDesc, boolValue(r.Up))
	emit.series(successDesc, boolValue(r.Success()))
	if r.IPProtocol != 0 {
		emit.series(ipProtocolDesc, float64(r.IPProtocol))
	}
	for p := range phaseCount {
		emit.series(phaseDesc, r.Phases[p].Seconds(), p.String())
	}
	if r.HandshakeDone {
		emit.series(handshakeDesc, r.Handshake.Seconds())
	}
	emit.series(statusCodeDesc, float64(r.StatusCode))
	if r.Failure != nil {
		emit.series(failureDesc, 1, r.Failure.Phase.String(), r.Failure.Reason)
	}
	if r.Settings.TLS == config.TLSStartTLS && r.Up {
		emit.series(startTLSDesc, boolValue(r.StartTLSAdvertised))
	}
	emit.series(tlsDesc, boolValue(r.TLS))
	collectExtensions(emit, r)
	collectTLS(emit, r, now)
}

func collectExtensions(emit *endpointEmitter, r *Result) {
	for _, k := range r.Extensions.Registered() {
		emit.series(extensionDesc, 1, k)
	}
	if size, ok := r.Extensions.SizeLimit(); ok {
		emit.series(sizeLimitDesc, float64(size))
	}
	for _, offer := range []struct {
		mechanisms []string
		tls        string
	}{{r.AuthBeforeTLS, "false"}, {r.AuthAfterTLS, "true"}} {
		seen := map[string]bool{}
		for _, m := range offer.mechanisms {
			if label := mechanismLabel(m); !seen[label] {
				seen[label] = true
				emit.series(authMechanismDesc, 1, label, offer.tls)
			}
		}
	}
}

func collectTLS(emit *endpointEmitter, r *Result, now time.Time) {
	if st := r.TLSState; st != nil {
		emit.series(tlsVersionDesc, 1, tlsVersionName(st.Version))
		emit.series(tlsCipherDesc, 1, cipherName(st.CipherSuite))
	}
	c := r.Cert
	if c == nil {
		return
	}
	leaf := c.Leaf()
	emit.series(certExpiryDesc, float64(leaf.NotAfter.Unix()))
	emit.series(certDaysDesc, leaf.NotAfter.Sub(now).Hours()/24)
	emit.series(earliestExpiryDesc, float64(c.EarliestExpiry().Unix()))
	emit.series(certVerifiedDesc, boolValue(c.Verified))
	emit.series(hostnameMatchDesc, boolValue(c.HostnameMatch))
	emit.series(chainInfoDesc, 1, chainInfo(c)...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
