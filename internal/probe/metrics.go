package probe

import (
	"net/netip"
	"strconv"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
)

// endpointLabel is a label endpoint series carry: its name and how its
// value is read off a result.
type endpointLabel struct {
	name  string
	value func(r *Result) string
	// ipOnly: carried only under addresses: all.
	ipOnly bool
}

// endpointLabels are the labels of endpoint series, in order: the one
// place their names and values are declared, side by side.
var endpointLabels = []endpointLabel{
	{name: "host", value: func(r *Result) string { return r.Host }},
	{name: "port", value: func(r *Result) string { return strconv.Itoa(r.Port) }},
	{name: "ip", value: func(r *Result) string { return addrLabel(r.IP) }, ipOnly: true},
}

// addrLabel is an address's canonical text, "" for none.
func addrLabel(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// endpointLabelNames returns the names of endpointLabels, the ip label
// included when withIP.
func endpointLabelNames(withIP bool) []string {
	var names []string
	for _, l := range endpointLabels {
		if withIP || !l.ipOnly {
			names = append(names, l.name)
		}
	}
	return names
}

// endpointLabelValues returns the values of endpointLabels for r, in
// their order, the ip label's included when withIP.
func endpointLabelValues(r *Result, withIP bool) []string {
	var values []string
	for _, l := range endpointLabels {
		if withIP || !l.ipOnly {
			values = append(values, l.value(r))
		}
	}
	return values
}

// endpointFamily is a family of endpoint series in both of its label
// sets: without and with the ip label of addresses: all.
type endpointFamily struct {
	plain, withIP *exposition.Family
}

// newEndpointFamily declares a family of endpoint series: endpointLabels,
// then extra.
func newEndpointFamily(name, help string, extra ...string) endpointFamily {
	return endpointFamily{
		plain:  exposition.NewFamily(name, help, append(endpointLabelNames(false), extra...)...),
		withIP: exposition.NewFamily(name, help, append(endpointLabelNames(true), extra...)...),
	}
}

// The series of one probe, declared in one place.
var (
	probeSuccessFamily = exposition.NewFamily("probe_success",
		"Whether the probe found at least one endpoint and every endpoint succeeded.")
	probeDurationFamily = exposition.NewFamily("probe_duration_seconds",
		"How long the whole probe took, in seconds.")

	upFamily = newEndpointFamily("probe_smtp_up",
		"Whether the endpoint answered as an SMTP server: connected, TLS done on implicit ports, a 220 greeting and a 250 to EHLO or HELO.")
	successFamily = newEndpointFamily("probe_smtp_success",
		"Whether the endpoint is up and met every expectation of the module.")
	ipProtocolFamily = newEndpointFamily("probe_ip_protocol",
		"The IP family dialled: 4 or 6.")
	phaseFamily = newEndpointFamily("probe_smtp_duration_seconds",
		"Time spent in each phase of the SMTP session, in seconds; 0 when the phase was skipped.", "phase")
	handshakeFamily = newEndpointFamily("probe_smtp_handshake_seconds",
		"Time from connect start to the 250 reply to the last EHLO, in seconds.")
	statusCodeFamily = newEndpointFamily("probe_smtp_status_code",
		"The last SMTP reply code before QUIT on success, the failing reply code on a reply failure, else 0.")
	failureFamily = newEndpointFamily("probe_smtp_failure_info",
		"Why the endpoint failed: the phase and reason of the first failure.", "phase", "reason")
	startTLSFamily = newEndpointFamily("probe_smtp_starttls_advertised",
		"Whether the first EHLO reply advertised STARTTLS.")
	tlsFamily = newEndpointFamily("probe_smtp_tls",
		"Whether the SMTP session ran under TLS.")
	extensionFamily = newEndpointFamily("probe_smtp_extension_info",
		"An IANA-registered SMTP service extension advertised in the final EHLO reply.", "extension")
	sizeLimitFamily = newEndpointFamily("probe_smtp_size_limit_bytes",
		"The message size limit advertised with the SIZE extension, in bytes.")
	authMechanismFamily = newEndpointFamily("probe_smtp_auth_mechanism_info",
		"An AUTH mechanism offered before TLS (tls=\"false\") or under TLS (tls=\"true\").", "mechanism", "tls")
	tlsVersionFamily = newEndpointFamily("probe_tls_version_info",
		"The negotiated TLS version.", "version")
	tlsCipherFamily = newEndpointFamily("probe_tls_cipher_info",
		"The negotiated TLS cipher suite.", "cipher")
	certExpiryFamily = newEndpointFamily("probe_smtp_cert_expiry_timestamp_seconds",
		"When the leaf certificate expires (its NotAfter), as a Unix timestamp.")
	certDaysFamily = newEndpointFamily("probe_smtp_cert_days_until_expiry",
		"Days until the leaf certificate expires; negative once it has expired.")
	earliestExpiryFamily = newEndpointFamily("probe_ssl_earliest_cert_expiry",
		"The earliest NotAfter of the served certificate chain, as a Unix timestamp.")
	certVerifiedFamily = newEndpointFamily("probe_smtp_cert_verified",
		"Whether the served chain verifies to the configured or system roots.")
	hostnameMatchFamily = newEndpointFamily("probe_smtp_cert_hostname_match",
		"Whether the leaf certificate is valid for the probed host name or the configured server name.")
	chainInfoFamily = newEndpointFamily("probe_ssl_last_chain_info",
		"Details of the leaf certificate.", "subject", "issuer", "serialnumber", "fingerprint_sha256", "subjectalternative")
	verifiedExpiryFamily = newEndpointFamily("probe_ssl_last_chain_expiry_timestamp_seconds",
		"The earliest NotAfter of the verified chain, as a Unix timestamp; absent when the chain did not verify.")
	ipHashFamily = newEndpointFamily("probe_ip_addr_hash",
		"A hash (FNV-1a, 32 bits, of its bytes) of the address dialled: changes when the address does.")
	fcrdnsFamily = newEndpointFamily("probe_smtp_fcrdns",
		"Whether a PTR name of the dialled address resolves back to it (forward-confirmed reverse DNS).")
	bannerMatchFamily = newEndpointFamily("probe_smtp_banner_hostname_match",
		"Whether the first word of the 220 greeting is a PTR name of the dialled address or the host.")
	kexFamily = newEndpointFamily("probe_smtp_tls_key_exchange_info",
		"The negotiated key exchange group (X25519MLKEM768, X25519, P-256 …; RSA for RSA key exchange).", "group")
	ocspStapledFamily = newEndpointFamily("probe_smtp_ocsp_stapled",
		"Whether the server stapled an OCSP response.")
	ocspStatusFamily = newEndpointFamily("probe_smtp_ocsp_status",
		"The stapled OCSP response's status, when its signature verified against the issuer in the served chain: 0 good, 1 revoked, 2 unknown.")
	ocspNextUpdateFamily = newEndpointFamily("probe_smtp_ocsp_next_update_timestamp_seconds",
		"When the verified stapled OCSP response expires (its nextUpdate), as a Unix timestamp.")
	daneInfoFamily = newEndpointFamily("probe_smtp_dane_info",
		"The endpoint's DANE state: none, insecure, unusable, usable or error.", "state")
	daneRecordsFamily = newEndpointFamily("probe_smtp_dane_records",
		"Distinct usable TLSA records (usage 2 or 3, selector 0 or 1, matching type 0, 1 or 2).")
	daneRolloverFamily = newEndpointFamily("probe_smtp_dane_rollover",
		"Whether there are at least two distinct usable TLSA records, one of them DANE-EE: a key change can be announced first.")
	daneVerifiedFamily = newEndpointFamily("probe_smtp_dane_verified",
		"Whether a usable TLSA record authenticated the served chain.")
	daneMatchFamily = newEndpointFamily("probe_smtp_dane_match_info",
		"The TLSA record that authenticated the served chain.", "usage", "selector", "matching_type")
	mtaSTSValidFamily = newEndpointFamily("probe_smtp_mta_sts_valid",
		"Whether the session meets the domain's MTA-STS policy (RFC 8461 §4): MX listed, TLS 1.2 or later, a chain that verifies, a leaf naming the MX.")
)

// The series of a mail domain's MTA-STS policy and TLS-RPT record.
var (
	mtaSTSInfoFamily = exposition.NewFamily("probe_smtp_mta_sts_info",
		"The MTA-STS check's result: ok, absent, record_invalid, fetch_failed, http_status, redirect, content_type, too_large, certificate or policy_invalid.", "result")
	mtaSTSModeFamily = exposition.NewFamily("probe_smtp_mta_sts_mode_info",
		"The MTA-STS policy's mode: enforce, testing or none.", "mode")
	mtaSTSMaxAgeFamily = exposition.NewFamily("probe_smtp_mta_sts_max_age_seconds",
		"The MTA-STS policy's max_age, in seconds.")
	mtaSTSCertFamily = exposition.NewFamily("probe_smtp_mta_sts_policy_cert_expiry_timestamp_seconds",
		"When the MTA-STS policy host's leaf certificate expires (its NotAfter), as a Unix timestamp.")
	mtaSTSMXMatchFamily = exposition.NewFamily("probe_smtp_mta_sts_mx_match",
		"Whether the MX host matches a pattern of the MTA-STS policy.", "host")
	tlsrptInfoFamily = exposition.NewFamily("probe_smtp_tlsrpt_info",
		"The TLS-RPT record's result: ok, absent, multiple or invalid.", "result")
)

// The series of a mail-domain target and of the hosts resolved.
var (
	mxLookupFamily = exposition.NewFamily("probe_smtp_mx_lookup_info",
		"How the mail domain's hosts were found: mx, implicit (no MX: the domain's own address) or null_mx.", "result")
	mxRecordsFamily = exposition.NewFamily("probe_smtp_mx_records",
		"MX records found, before max_hosts.")
	mxInfoFamily = exposition.NewFamily("probe_smtp_mx_info",
		"An MX host probed, with its preference.", "host", "preference")
	mxProblemFamily = exposition.NewFamily("probe_smtp_mx_problem_info",
		"A misconfigured MX record or host: cname, ip_literal, localhost, no_address, null_mx_mixed or over_max_hosts.", "host", "problem")
	deliverableFamily = exposition.NewFamily("probe_smtp_deliverable",
		"Whether at least one MX host has an endpoint that succeeded: mail gets in.")
	targetFailureFamily = exposition.NewFamily("probe_smtp_target_failure_info",
		"Why the target failed before any endpoint existed: the phase (mx or resolve) and reason.", "phase", "reason")
	mxSecureFamily = exposition.NewFamily("probe_smtp_mx_dnssec_secure",
		"Whether the MX answer was DNSSEC-secure (the resolver set AD).")
	hostSecureFamily = exposition.NewFamily("probe_smtp_host_dnssec_secure",
		"Whether the host's A and AAAA answers were DNSSEC-secure (the resolver set AD).", "host")
	dnsLookupFamily = exposition.NewFamily("probe_dns_lookup_time_seconds",
		"How long the MX lookup (mail domains) or the host lookup took, in seconds.")
	hostAddressesFamily = exposition.NewFamily("probe_smtp_host_addresses",
		"Addresses a host resolved to, per family (4 or 6), before max_addresses.", "host", "family")
	resultAgeFamily = exposition.NewFamily("probe_smtp_result_age_seconds",
		"How old the answer is: 0 for a fresh probe, else the age of the shared probe's result (share_window).")
	skippedFamily = exposition.NewFamily("probe_smtp_endpoints_skipped",
		"Endpoints not probed: past the 64 a probe runs at most.")
)

// Families returns every family a probe's answer may hold.
func Families() []*exposition.Family {
	families := []*exposition.Family{
		probeSuccessFamily, probeDurationFamily,
		mxLookupFamily, mxRecordsFamily, mxInfoFamily, mxProblemFamily, deliverableFamily,
		targetFailureFamily, mxSecureFamily, hostSecureFamily, dnsLookupFamily, hostAddressesFamily,
		skippedFamily, mtaSTSInfoFamily, mtaSTSModeFamily, mtaSTSMaxAgeFamily, mtaSTSCertFamily,
		mtaSTSMXMatchFamily, tlsrptInfoFamily, resultAgeFamily,
	}
	for _, f := range endpointFamilies() {
		families = append(families, f.plain, f.withIP)
	}
	return families
}

// endpointFamilies returns every family of endpoint series.
func endpointFamilies() []endpointFamily {
	return []endpointFamily{
		upFamily, successFamily, ipProtocolFamily, phaseFamily, handshakeFamily, statusCodeFamily,
		failureFamily, startTLSFamily, tlsFamily, extensionFamily, sizeLimitFamily, authMechanismFamily,
		tlsVersionFamily, tlsCipherFamily, certExpiryFamily, certDaysFamily, earliestExpiryFamily,
		certVerifiedFamily, hostnameMatchFamily, chainInfoFamily, verifiedExpiryFamily, ipHashFamily,
		fcrdnsFamily, bannerMatchFamily, kexFamily, ocspStapledFamily, ocspStatusFamily,
		ocspNextUpdateFamily, daneInfoFamily, daneRecordsFamily, daneRolloverFamily, daneVerifiedFamily,
		daneMatchFamily, mtaSTSValidFamily,
	}
}
