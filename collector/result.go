package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// Phase is a step of an SMTP session.
type Phase int

// The phases in session order (implicit TLS runs tls before banner).
const (
	PhaseResolve Phase = iota
	PhaseConnect
	PhaseBanner
	PhaseEHLO
	PhaseStartTLS
	PhaseTLS
	PhaseEHLOTLS
	PhaseAuth
	PhaseQuit
	phaseCount
)

var phaseNames = [phaseCount]string{"resolve", "connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls", "auth", "quit"}

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

// Result is everything one SMTP session found out about one endpoint.
// Once the probe's answer is built, the history drops TLSState, Cert,
// Extensions and the AUTH lists (probeRecord.compact).
type Result struct {
	// Host and Port name the endpoint, as its series are labelled.
	Host string
	Port int
	// Settings are the port's TLS mode and expectations.
	Settings config.Settings
	// Addr is the address dialled last; empty when none was.
	Addr string
	// IPProtocol is 4 or 6, the family dialled; 0 when nothing was dialled.
	IPProtocol int

	// Up: connected, TLS done on implicit ports, 220 greeting, 250 to EHLO/HELO.
	Up bool
	// Failure is the first failure in session order; nil on success.
	Failure *Failure
	// Phases holds the time spent in each phase; 0 when skipped.
	Phases [phaseCount]time.Duration
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
	Extensions Extensions
	// AuthBeforeTLS and AuthAfterTLS are the AUTH mechanisms offered in
	// cleartext and under TLS.
	AuthBeforeTLS []string
	AuthAfterTLS  []string

	// TLSState is set after a completed handshake.
	TLSState *tls.ConnectionState
	// Cert holds certificate facts when a Certificate message arrived.
	Cert *CertFacts

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

// classify names the failure reason for an error that ended phase. The
// exporter's own resource errors come first, so that they are never blamed
// on the target; then the budget, which ends DNS lookups too; then the
// protocol and network causes.
func classify(ctx context.Context, phase Phase, err error) string {
	var (
		protoErr *ProtocolError
		replyErr *ReplyError
		dnsErr   *net.DNSError
	)
	switch {
	case isLocal(err):
		return ReasonLocal
	case errors.As(err, &protoErr):
		return ReasonProtocol
	case errors.As(err, &replyErr):
		return ReasonReplyCode
	case ctx.Err() != nil || isTimeout(err):
		return ReasonTimeout
	case errors.As(err, &dnsErr) || errors.Is(err, errNoAddress):
		return ReasonDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EAFNOSUPPORT):
		return ReasonUnreachable
	case isReset(err):
		return ReasonReset
	case phase == PhaseTLS || isTLSError(err):
		return ReasonTLSHandshake
	}
	return ReasonProtocol
}

// isLocal reports the exporter's own resource errors: out of descriptors,
// socket buffers or memory.
func isLocal(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

func isReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// isTLSError reports an error of the TLS layer: an alert sent or received,
// or a record that is not TLS.
func isTLSError(err error) bool {
	var opErr *net.OpError
	var recordErr tls.RecordHeaderError
	return errors.As(err, &recordErr) ||
		(errors.As(err, &opErr) && (opErr.Op == "local error" || opErr.Op == "remote error"))
}
