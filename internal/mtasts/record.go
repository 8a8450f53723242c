package mtasts

import (
	"context"
	"errors"
	"fmt"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// stsVersion begins every MTA-STS TXT record (RFC 8461 §3.1).
const stsVersion = "v=STSv1"

// maxIDLen is the longest policy id: 1*32(ALPHA / DIGIT).
const maxIDLen = 32

// RecordName returns the name of domain's MTA-STS TXT record:
// "_mta-sts.<domain>".
func RecordName(domain string) string { return "_mta-sts." + domain }

// ParseRecord parses one MTA-STS TXT record (RFC 8461 §3.1) and returns
// its id. The record must begin with "v=STSv1" and carry exactly one id of
// 1 to 32 letters and digits; other fields must be well formed and are
// ignored. Errors are *SyntaxError.
func ParseRecord(record string) (id string, err error) {
	const what = "STS record"
	if !hasVersion(record, stsVersion) {
		return "", &SyntaxError{What: what, Problem: "does not begin with " + stsVersion}
	}
	fields, err := txtFields(what, record, stsVersion)
	if err != nil {
		return "", err
	}
	found := false
	for _, f := range fields {
		switch {
		case f.name != "id":
			if !validTXTExtValue(f.value) {
				return "", &SyntaxError{What: what, Problem: "malformed value of field " + quote(f.name)}
			}
		case found:
			return "", &SyntaxError{What: what, Problem: "more than one id"}
		case !validID(f.value):
			return "", &SyntaxError{What: what, Problem: "id " + quote(f.value) + " is not 1 to 32 letters and digits"}
		default:
			id, found = f.value, true
		}
	}
	if !found {
		return "", &SyntaxError{What: what, Problem: "no id"}
	}
	return id, nil
}

// validID reports a policy id: 1*32(ALPHA / DIGIT).
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// lookupRecord reads domain's MTA-STS TXT record and returns its id. A
// name without records (NXDOMAIN, NODATA) or without an STSv1 record is
// ResultAbsent; several STSv1 records or a malformed one ResultRecordInvalid;
// a lookup that failed otherwise (SERVFAIL, timeout …) ResultFetchFailed,
// since the policy is then unknown, not known to be absent.
func lookupRecord(ctx context.Context, r Resolver, domain string) (string, *stepError) {
	name := RecordName(domain)
	answer, err := r.LookupTXT(ctx, name)
	var dnsErr *dnsclient.Error
	switch {
	case errors.As(err, &dnsErr) && dnsErr.Kind == dnsclient.NXDomain:
		return "", fail(ResultAbsent, fmt.Errorf("reading the MTA-STS record: %w", err))
	case err != nil:
		return "", fail(ResultFetchFailed, fmt.Errorf("reading the MTA-STS record: %w", err))
	}
	records := recordsOf(answer.Records, stsVersion)
	switch len(records) {
	case 0:
		return "", fail(ResultAbsent, fmt.Errorf("%s has no %s TXT record", name, stsVersion))
	case 1:
	default:
		return "", fail(ResultRecordInvalid, fmt.Errorf("%s has %d %s TXT records, not one", name, len(records), stsVersion))
	}
	id, err := ParseRecord(records[0])
	if err != nil {
		return "", fail(ResultRecordInvalid, fmt.Errorf("%s: %w", name, err))
	}
	return id, nil
}

// recordsOf returns the records of the kind version tags; the others are
// not records of that kind and are discarded (RFC 8461 §3.1, RFC 8460 §3).
func recordsOf(records []string, version string) []string {
	var out []string
	for _, r := range records {
		if hasVersion(r, version) {
			out = append(out, r)
		}
	}
	return out
}
