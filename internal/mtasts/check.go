package mtasts

import (
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// Results of Check: the values of probe_smtp_mta_sts_info{result}.
const (
	// ResultOK: the record and the policy are valid; Report.Policy holds it.
	ResultOK = "ok"
	// ResultAbsent: no STSv1 TXT record (NXDOMAIN, NODATA, or only other
	// TXT records): the domain has no MTA-STS.
	ResultAbsent = "absent"
	// ResultRecordInvalid: several STSv1 records, or a malformed one (a bad
	// or missing id …).
	ResultRecordInvalid = "record_invalid"
	// ResultFetchFailed: the policy could not be got: the TXT lookup failed
	// (SERVFAIL, timeout), the policy host did not resolve or is outside
	// Options.Allowed, or the connection, the TLS handshake (for a reason
	// other than the certificate) or the HTTP exchange failed or timed out.
	ResultFetchFailed = "fetch_failed"
	// ResultHTTPStatus: the answer's status is neither 200 nor a redirect.
	ResultHTTPStatus = "http_status"
	// ResultRedirect: the answer is a redirect (3xx), which senders do not follow.
	ResultRedirect = "redirect"
	// ResultContentType: the answer's media type is not text/plain.
	ResultContentType = "content_type"
	// ResultTooLarge: the policy is longer than MaxPolicySize.
	ResultTooLarge = "too_large"
	// ResultCertificate: the policy host's certificate does not verify for
	// mta-sts.<domain> against Options.RootCAs (unknown authority, expired,
	// wrong name …).
	ResultCertificate = "certificate"
	// ResultPolicyInvalid: the policy breaks RFC 8461 §3.2.
	ResultPolicyInvalid = "policy_invalid"
)

// Resolver is the DNS Check and CheckTLSRPT ask: *dnsclient.Client.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) (dnsclient.TXTAnswer, error)
	LookupAddrs(ctx context.Context, host, network string) (dnsclient.AddrsAnswer, error)
}

// Options are what Check needs besides the domain.
type Options struct {
	// Resolver answers every lookup: the TXT record and the policy host's
	// addresses.
	Resolver Resolver
	// Allowed reports whether an address of the policy host may be
	// dialled; every address the host resolves to must be allowed, else
	// nothing is dialled. nil allows every address.
	Allowed func(host string, addr netip.Addr) bool
	// RootCAs verify the policy host's certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// Port is the policy host's HTTPS port; 0 means 443.
	Port int
	// IPProtocol is config.IPProtocolAuto (or ""), IPProtocol4 or
	// IPProtocol6. Auto dials the host's first IPv6 address, then its first
	// IPv4 one; the first attempt gets half of the remaining budget.
	IPProtocol string
}

// Report is what Check found.
type Report struct {
	// Result is one of the Result constants.
	Result string
	// RecordID is the id of the STSv1 TXT record, when one was read.
	RecordID string
	// Policy is the policy served, when Result is ResultOK; nil otherwise.
	// Its Mode and MaxAge give probe_smtp_mta_sts_mode_info and
	// probe_smtp_mta_sts_max_age_seconds.
	Policy *Policy
	// PolicyAddr is the address the policy was fetched from, when a
	// connection was made.
	PolicyAddr netip.AddrPort
	// PolicyCertExpiry is the NotAfter of the policy host's leaf
	// certificate whenever one was received, even one that failed to
	// verify; zero otherwise.
	PolicyCertExpiry time.Time
	// Err says why Result is not ResultOK: a *dnsclient.Error, a
	// *NotAllowedError, a *tls.CertificateVerificationError, a
	// *SyntaxError … wrapped with what was being done.
	Err error
	// Duration is how long Check took.
	Duration time.Duration
}

// defaultBudget bounds a Check whose context has no deadline.
const defaultBudget = 10 * time.Second

// Check reads domain's MTA-STS record, fetches and parses its policy, all
// within ctx's deadline (defaultBudget when it has none), and reports the
// outcome. It keeps nothing between calls.
func Check(ctx context.Context, domain string, opts Options) Report {
	start := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultBudget)
		defer cancel()
	}
	r := check(ctx, normalizeDomain(domain), opts)
	r.Duration = time.Since(start)
	return r
}

// check runs the steps in order; the first that fails decides the result.
func check(ctx context.Context, domain string, opts Options) Report {
	id, failed := lookupRecord(ctx, opts.Resolver, domain)
	if failed != nil {
		return failedReport(Report{}, failed)
	}
	r := Report{RecordID: id}
	fetched, failed := fetchPolicy(ctx, PolicyHost(domain), opts)
	r.PolicyAddr, r.PolicyCertExpiry = fetched.addr, fetched.certExpiry
	if failed != nil {
		return failedReport(r, failed)
	}
	policy, err := ParsePolicy(fetched.text)
	if err != nil {
		r.Result, r.Err = ResultPolicyInvalid, err
		return r
	}
	r.Result, r.Policy = ResultOK, &policy
	return r
}

// failedReport completes r with a step's failure.
func failedReport(r Report, failed *stepError) Report {
	r.Result, r.Err = failed.result, failed.err
	return r
}

// PolicyHost returns the host serving domain's policy: "mta-sts.<domain>".
func PolicyHost(domain string) string { return "mta-sts." + domain }

// errNoAddress: the policy host resolved, but to no address of the wanted
// IP protocol.
var errNoAddress = errors.New("no address of the wanted IP protocol")
