package probe

import (
	"fmt"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

// expectationError is a failure the prober decides itself (STARTTLS missing,
// AUTH not offered, a certificate that fails an expectation …) rather than
// one the network or server caused.
type expectationError struct {
	reason string
	err    error
}

func (e *expectationError) Error() string { return e.err.Error() }
func (e *expectationError) Unwrap() error { return e.err }

// certExpectationFailure returns the reason and error of the first
// certificate check that fails, or "" when all pass.
func certExpectationFailure(facts *tlsinspect.CertFacts, now time.Time) (string, error) {
	leaf := facts.Leaf()
	switch {
	case now.After(leaf.NotAfter):
		return ReasonCertExpired, fmt.Errorf("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return ReasonCertUnverified, fmt.Errorf("certificate not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	case !facts.Verified:
		return ReasonCertUnverified, fmt.Errorf("certificate not verified: %w", facts.VerifyErr)
	case !facts.HostnameMatch:
		return ReasonCertHostname, fmt.Errorf("certificate name mismatch: %w", facts.HostnameErr)
	}
	return "", nil
}
