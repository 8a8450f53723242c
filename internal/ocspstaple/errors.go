package ocspstaple

import "fmt"

// Kind says why a staple was not verified.
type Kind int

const (
	// Malformed: the staple is not a DER OCSP response crypto/ocsp accepts
	// (bad structure, a critical extension, an embedded certificate that did
	// not sign it …).
	Malformed Kind = iota + 1
	// Unsuccessful: the response's status is not successful (tryLater,
	// internalError …): it carries no certificate status.
	Unsuccessful
	// NoIssuer: the served chain has no certificate after the leaf, or the
	// second certificate did not issue the leaf.
	NoIssuer
	// OtherCertificate: the response has no status for the leaf: no entry
	// with its serial number, or the entry names another issuer (name or
	// key hash).
	OtherCertificate
	// BadSignature: the response's signature does not verify against the
	// issuer.
	BadSignature
	// UnauthorizedResponder: the response was signed by a responder
	// certificate that the issuer did not sign, that lacks the OCSP-signing
	// extended key usage, or that is outside its validity period.
	UnauthorizedResponder
	// Expired: the response's NextUpdate has passed.
	Expired
	// NotYetValid: the response's ThisUpdate lies more than MaxSkew ahead.
	NotYetValid
)

var kindNames = [...]string{
	Malformed:             "malformed",
	Unsuccessful:          "unsuccessful",
	NoIssuer:              "no_issuer",
	OtherCertificate:      "other_certificate",
	BadSignature:          "bad_signature",
	UnauthorizedResponder: "unauthorized_responder",
	Expired:               "expired",
	NotYetValid:           "not_yet_valid",
}

// String returns the kind in snake case ("bad_signature" …).
func (k Kind) String() string {
	if k <= 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Error says why a staple was not verified. Inspect it with errors.As.
type Error struct {
	// Kind says why.
	Kind Kind
	// Err is the cause in detail.
	Err error
}

// Error describes the failure in one line.
func (e *Error) Error() string {
	return fmt.Sprintf("ocsp staple: %s: %v", e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// fail returns an *Error of kind k whose cause is formatted from format and
// args (%w allowed).
func fail(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}
