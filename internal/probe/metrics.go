package probe

import (
	"strconv"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
)

// endpointLabel is a label every endpoint series carries: its name and how
// its value is read off a result.
type endpointLabel struct {
	name  string
	value func(r *Result) string
}

// endpointLabels are the labels of every endpoint series, in order: the one
// place their names and values are declared, side by side.
var endpointLabels = []endpointLabel{
	{"host", func(r *Result) string { return r.Host }},
	{"port", func(r *Result) string { return strconv.Itoa(r.Port) }},
}

// endpointLabelNames returns the names of endpointLabels.
func endpointLabelNames() []string {
	names := make([]string, len(endpointLabels))
	for i, l := range endpointLabels {
		names[i] = l.name
	}
	return names
}

// endpointLabelValues returns the values of endpointLabels for r, in their
// order.
func endpointLabelValues(r *Result) []string {
	values := make([]string, len(endpointLabels))
	for i, l := range endpointLabels {
		values[i] = l.value(r)
	}
	return values
}

// endpointFamily declares a family of endpoint series: endpointLabels, then
// extra.
func endpointFamily(name, help string, extra ...string) *exposition.Family {
	return exposition.NewFamily(name, help, append(endpointLabelNames(), extra...)...)
}

// The series of one probe, declared in one place.
var (
	probeSuccessFamily = exposition.NewFamily("probe_success",
		"Whether the probe found at least one endpoint and every endpoint succeeded.")
	probeDurationFamily = exposition.NewFamily("probe_duration_seconds",
		"How long the whole probe took, in seconds.")

	upFamily = endpointFamily("probe_smtp_up",
		"Whether the endpoint answered as an SMTP server: connected, TLS done on implicit ports, a 220 greeting and a 250 to EHLO or HELO.")
	successFamily = endpointFamily("probe_smtp_success",
		"Whether the endpoint is up and met every expectation of the module.")
	ipProtocolFamily = endpointFamily("probe_ip_protocol",
		"The IP family dialled: 4 or 6.")
	phaseFamily = endpointFamily("probe_smtp_duration_seconds",
		"Time spent in each phase of the SMTP session, in seconds; 0 when the phase was skipped.", "phase")
	handshakeFamily = endpointFamily("probe_smtp_handshake_seconds",
		"Time from connect start to the 250 reply to the last EHLO, in seconds.")
	statusCodeFamily = endpointFamily("probe_smtp_status_code",
		"The last SMTP reply code before QUIT on success, the failing reply code on a reply failure, else 0.")
	failureFamily = endpointFamily("probe_smtp_failure_info",
		"Why the endpoint failed: the phase and reason of the first failure.", "phase", "reason")
	startTLSFamily = endpointFamily("probe_smtp_starttls_advertised",
		"Whether the first EHLO reply advertised STARTTLS.")
	tlsFamily = endpointFamily("probe_smtp_tls",
		"Whether the SMTP session ran under TLS.")
	extensionFamily = endpointFamily("probe_smtp_extension_info",
		"An IANA-registered SMTP service extension advertised in the final EHLO reply.", "extension")
	sizeLimitFamily = endpointFamily("probe_smtp_size_limit_bytes",
		"The message size limit advertised with the SIZE extension, in bytes.")
	authMechanismFamily = endpointFamily("probe_smtp_auth_mechanism_info",
		"An AUTH mechanism offered before TLS (tls=\"false\") or under TLS (tls=\"true\").", "mechanism", "tls")
	tlsVersionFamily = endpointFamily("probe_tls_version_info",
		"The negotiated TLS version.", "version")
	tlsCipherFamily = endpointFamily("probe_tls_cipher_info",
		"The negotiated TLS cipher suite.", "cipher")
	certExpiryFamily = endpointFamily("probe_smtp_cert_expiry_timestamp_seconds",
		"When the leaf certificate expires (its NotAfter), as a Unix timestamp.")
	certDaysFamily = endpointFamily("probe_smtp_cert_days_until_expiry",
		"Days until the leaf certificate expires; negative once it has expired.")
	earliestExpiryFamily = endpointFamily("probe_ssl_earliest_cert_expiry",
		"The earliest NotAfter of the served certificate chain, as a Unix timestamp.")
	certVerifiedFamily = endpointFamily("probe_smtp_cert_verified",
		"Whether the served chain verifies to the configured or system roots.")
	hostnameMatchFamily = endpointFamily("probe_smtp_cert_hostname_match",
		"Whether the leaf certificate is valid for the probed host name or the configured server name.")
	chainInfoFamily = endpointFamily("probe_ssl_last_chain_info",
		"Details of the leaf certificate.", "subject", "issuer", "serialnumber", "fingerprint_sha256", "subjectalternative")
)

// Families returns every family a probe's answer may hold.
func Families() []*exposition.Family {
	return []*exposition.Family{
		probeSuccessFamily,
		probeDurationFamily,
		upFamily,
		successFamily,
		ipProtocolFamily,
		phaseFamily,
		handshakeFamily,
		statusCodeFamily,
		failureFamily,
		startTLSFamily,
		tlsFamily,
		extensionFamily,
		sizeLimitFamily,
		authMechanismFamily,
		tlsVersionFamily,
		tlsCipherFamily,
		certExpiryFamily,
		certDaysFamily,
		earliestExpiryFamily,
		certVerifiedFamily,
		hostnameMatchFamily,
		chainInfoFamily,
	}
}
