package mtasts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// Results of CheckTLSRPT: the values of probe_smtp_tlsrpt_info{result}.
const (
	// TLSRPTOK: exactly one TLSRPTv1 record, well formed.
	TLSRPTOK = "ok"
	// TLSRPTAbsent: no TLSRPTv1 record (NXDOMAIN, NODATA, or only other TXT records).
	TLSRPTAbsent = "absent"
	// TLSRPTMultiple: more than one TLSRPTv1 record.
	TLSRPTMultiple = "multiple"
	// TLSRPTInvalid: one TLSRPTv1 record that breaks RFC 8460 §3.
	TLSRPTInvalid = "invalid"
)

// tlsrptVersion begins every TLS-RPT TXT record (RFC 8460 §3).
const tlsrptVersion = "v=TLSRPTv1"

// TLSRPTName returns the name of domain's TLS-RPT TXT record:
// "_smtp._tls.<domain>".
func TLSRPTName(domain string) string { return "_smtp._tls." + domain }

// CheckTLSRPT reads domain's TLS-RPT record and judges it. A lookup that
// fails otherwise than with NXDOMAIN (SERVFAIL, timeout …) tells nothing
// about the record: the result is then "" and err says why.
func CheckTLSRPT(ctx context.Context, r Resolver, domain string) (result string, err error) {
	name := TLSRPTName(normalizeDomain(domain))
	answer, err := r.LookupTXT(ctx, name)
	var dnsErr *dnsclient.Error
	switch {
	case errors.As(err, &dnsErr) && dnsErr.Kind == dnsclient.NXDomain:
		return TLSRPTAbsent, nil
	case err != nil:
		return "", fmt.Errorf("reading the TLS-RPT record: %w", err)
	}
	records := recordsOf(answer.Records, tlsrptVersion)
	switch len(records) {
	case 0:
		return TLSRPTAbsent, nil
	case 1:
	default:
		return TLSRPTMultiple, fmt.Errorf("%s has %d %s TXT records, not one", name, len(records), tlsrptVersion)
	}
	if _, err := ParseTLSRPTRecord(records[0]); err != nil {
		return TLSRPTInvalid, fmt.Errorf("%s: %w", name, err)
	}
	return TLSRPTOK, nil
}

// ParseTLSRPTRecord parses one TLS-RPT TXT record (RFC 8460 §3) and returns
// its reporting URIs. The record must begin with "v=TLSRPTv1" and carry
// exactly one rua field: a comma-separated list of mailto: or https: URIs.
// Other fields must be well formed and are ignored. Errors are *SyntaxError.
func ParseTLSRPTRecord(record string) (rua []string, err error) {
	const what = "TLSRPT record"
	if !hasVersion(record, tlsrptVersion) {
		return nil, &SyntaxError{What: what, Problem: "does not begin with " + tlsrptVersion}
	}
	fields, err := txtFields(what, record, tlsrptVersion)
	if err != nil {
		return nil, err
	}
	found := false
	for _, f := range fields {
		switch {
		case f.name != "rua":
			if !validTXTExtValue(f.value) {
				return nil, &SyntaxError{What: what, Problem: "malformed value of field " + quote(f.name)}
			}
		case found:
			return nil, &SyntaxError{What: what, Problem: "more than one rua"}
		default:
			if rua, err = parseRUA(f.value); err != nil {
				return nil, err
			}
			found = true
		}
	}
	if !found {
		return nil, &SyntaxError{What: what, Problem: "no rua"}
	}
	return rua, nil
}

// parseRUA splits a rua value into its URIs: tlsrpt-uri *(*WSP "," *WSP
// tlsrpt-uri), each a mailto: URI with an address or an https: URI with a
// host.
func parseRUA(value string) ([]string, error) {
	var uris []string
	for part := range strings.SplitSeq(value, ",") {
		uri := trimWSP(part)
		if !validReportURI(uri) {
			return nil, &SyntaxError{What: "TLSRPT record", Problem: "rua " + quote(uri) + " is not a mailto: or https: URI"}
		}
		uris = append(uris, uri)
	}
	return uris, nil
}

// validReportURI reports a URI of printable ASCII whose scheme is mailto
// (with an address) or https (with a host).
func validReportURI(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "mailto":
		local, domain, ok := strings.Cut(u.Opaque, "@")
		return ok && local != "" && domain != ""
	case "https":
		return u.Opaque == "" && u.Hostname() != ""
	}
	return false
}
