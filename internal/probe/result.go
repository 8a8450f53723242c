package probe

import (
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

// Phase is a step of an SMTP session.
type Phase int

// The phases in session order (implicit TLS runs tls before banner).
const (
	PhaseResolve Phase = iota
	// PhaseTLSA is the TLSA lookup of DANE, concurrent with connect.
	PhaseTLSA
	PhaseConnect
	PhaseBanner
	PhaseEHLO
	PhaseStartTLS
	PhaseTLS
	PhaseEHLOTLS
	PhaseAuth
	PhaseQuit
	// PhaseCount is the number of phases, not a phase.
	PhaseCount
)

var phaseNames = [PhaseCount]string{"resolve", "tlsa", "connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls", "auth", "quit"}

func (p Phase) String() string { return phaseNames[p] }

// Failure reasons: the values of probe_smtp_failure_info's reason label.
const (
	ReasonDNS             = "dns"
	ReasonRefused         = "refused"
	ReasonUnreachable     = "unreachable"
	ReasonTimeout         = "timeout"
	ReasonReset           = "reset"
	ReasonProtocol        = "protocol"
	ReasonReplyCode       = "reply_code"
	ReasonStartTLSMissing = "starttls_missing"
	ReasonTLSHandshake    = "tls_handshake"
	ReasonTLSVersion      = "tls_version"
	ReasonCertExpired     = "cert_expired"
	ReasonCertUnverified  = "cert_unverified"
	ReasonCertHostname    = "cert_hostname"
	ReasonAuthNotOffered  = "auth_not_offered"
	ReasonAuthFailed      = "auth_failed"
	// ReasonAuthInsecure: AUTH is configured, but the session has no TLS or
	// a certificate that did not verify for the host, and insecure_auth is
	// off, so the credentials were not sent.
	ReasonAuthInsecure = "auth_insecure"
	// ReasonLocal: the exporter's own resource ran out (descriptors,
	// buffers, memory): never the target's fault.
	ReasonLocal = "local"
	// DANE, MTA-STS and OCSP: SPEC "DANE", "MTA-STS and TLS-RPT", "OCSP".
	ReasonDANEMismatch   = "dane_mismatch"
	ReasonDANEMissing    = "dane_missing"
	ReasonMTASTSMismatch = "mta_sts_mismatch"
	ReasonMTASTSMissing  = "mta_sts_missing"
	ReasonOCSPMissing    = "ocsp_missing"
	ReasonOCSPRevoked    = "ocsp_revoked"
)

// Failure is the first thing that went wrong in a session.
type Failure struct {
	// Phase is where it happened.
	Phase Phase
	// Reason is one of the Reason constants.
	Reason string
	// Err is the underlying error, for logs and debug output.
	Err error
}

// Result is everything one SMTP session found out about one endpoint. It
// is complete when the session returns it and is never changed afterwards.
type Result struct {
	// Host and Port name the endpoint, as its series are labelled.
	Host string
	Port int
	// IP is the endpoint's one address under addresses: all (its ip
	// label); invalid otherwise.
	IP netip.Addr
	// Settings are the port's TLS mode and expectations.
	Settings config.Settings
	// Addr is the address dialled last; empty when none was.
	Addr string
	// Dialled is the address of Addr; invalid when none was dialled.
	Dialled netip.Addr
	// BannerName is the first word of the 220 greeting.
	BannerName string
	// Reverse holds the reverse DNS checks, with reverse_dns; nil otherwise.
	Reverse *ReverseDNS
	// DANE holds the TLSA checks, with dane; nil otherwise.
	DANE *DANEResult
	// OCSP is the check of the stapled OCSP response, after a handshake.
	OCSP *ocspstaple.Result
	// MTASTSValid says whether the session met the domain's MTA-STS
	// policy (RFC 8461 §4), when one was parsed; nil otherwise.
	MTASTSValid *bool
	// IPProtocol is 4 or 6, the family dialled; 0 when nothing was dialled.
	IPProtocol int

	// Up: connected, TLS done on implicit ports, 220 greeting, 250 to EHLO/HELO.
	Up bool
	// Failure is the first failure in session order; nil on success.
	Failure *Failure
	// Phases holds the time spent in each phase; 0 when skipped.
	Phases [PhaseCount]time.Duration
	// Handshake is connect start to the last EHLO's 250; valid if HandshakeDone.
	Handshake     time.Duration
	HandshakeDone bool
	// StatusCode follows SPEC: the last reply before QUIT on success, the
	// failing reply on a reply failure, else 0.
	StatusCode int

	// StartTLSAdvertised: the first EHLO listed STARTTLS.
	StartTLSAdvertised bool
	// TLS: the session ran under TLS.
	TLS bool
	// Extensions are those of the final EHLO.
	Extensions smtpwire.Extensions
	// AuthBeforeTLS and AuthAfterTLS are the AUTH mechanisms offered in
	// cleartext and under TLS.
	AuthBeforeTLS []string
	AuthAfterTLS  []string

	// TLSState is set after a completed handshake.
	TLSState *tls.ConnectionState
	// Cert holds certificate facts when a Certificate message arrived.
	Cert *tlsinspect.CertFacts

	// Transcript records the dialogue for debug output and /history.
	Transcript *Transcript
}

// Success reports whether the endpoint is up and met every expectation.
func (r *Result) Success() bool { return r.Up && r.Failure == nil }

// fail records f unless an earlier failure was recorded.
func (r *Result) fail(phase Phase, reason string, err error) {
	if r.Failure == nil {
		r.Failure = &Failure{Phase: phase, Reason: reason, Err: err}
	}
}
