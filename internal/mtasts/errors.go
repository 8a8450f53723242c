package mtasts

import (
	"fmt"

	"github.com/smtp-exporter/smtp_exporter/internal/plan"
)

// SyntaxError says why a policy file or a TXT record breaks its grammar
// (RFC 8461 §3.1 and §3.2, RFC 8460 §3).
type SyntaxError struct {
	// What is "policy", "STS record" or "TLSRPT record".
	What string
	// Line is the 1-based line of a policy file the problem is on; 0 when
	// the problem is not on one line (a field missing) or for a TXT record.
	Line int
	// Problem says what is wrong, in a few words.
	Problem string
}

// Error describes the problem in one line.
func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.What, e.Line, e.Problem)
	}
	return fmt.Sprintf("%s: %s", e.What, e.Problem)
}

// NotAllowedError says that the policy host resolves to an address that
// Options.Allowed refuses (or to more than could be checked); nothing was
// dialled. It is the resolver step's own type.
type NotAllowedError = plan.NotAllowedError

// stepError is the failure of one step of Check with the result it gives.
type stepError struct {
	result string
	err    error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// fail returns err as the failure of a step whose result is result.
func fail(result string, err error) *stepError {
	return &stepError{result: result, err: err}
}
