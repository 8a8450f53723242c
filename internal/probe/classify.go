package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/smtp-exporter/smtp_exporter/internal/plan"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
)

// classify names the failure reason for an error that ended phase. The
// exporter's own resource errors come first, so that they are never blamed
// on the target; then the budget, which ends DNS lookups too; then the
// protocol and network causes.
func classify(ctx context.Context, phase Phase, err error) string {
	var (
		protoErr   *smtpwire.ProtocolError
		replyErr   *smtpwire.ReplyError
		resolveErr *plan.ResolveError
	)
	switch {
	case isLocal(err):
		return ReasonLocal
	case errors.As(err, &protoErr):
		return ReasonProtocol
	case errors.As(err, &replyErr):
		return ReasonReplyCode
	case errors.As(err, &resolveErr):
		return resolveErr.Reason // decided by the resolver step
	case ctx.Err() != nil || isTimeout(err):
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.EAFNOSUPPORT):
		return ReasonUnreachable
	case isReset(err):
		return ReasonReset
	case phase == PhaseTLS || isTLSError(err):
		return ReasonTLSHandshake
	}
	return ReasonProtocol
}

// isLocal reports the exporter's own resource errors: out of descriptors,
// socket buffers, memory, or local ports and addresses (EADDRNOTAVAIL).
func isLocal(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.EADDRNOTAVAIL)
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
