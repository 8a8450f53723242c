package probe

import (
	"net"
	"syscall"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// TestProbeConnectionsHaveNoKeepAlive: keep-alive on a connection that
// lives for one short session only costs system calls.
func TestProbeConnectionsHaveNoKeepAlive(t *testing.T) {
	ln := smtptest.Listen(t)
	dialer := probeDialer()
	conn, err := dialer.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var keepAlive int
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		keepAlive, sockErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	}); err != nil || sockErr != nil {
		t.Fatal(err, sockErr)
	}
	if keepAlive != 0 {
		t.Errorf("SO_KEEPALIVE = %d on a probe connection, want 0", keepAlive)
	}
}
