package mtasts_test

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

// TestCheckDeadIPv6 gives the policy host an IPv6 address whose SYNs are
// dropped: the IPv4 attempt must still get its share of the budget.
func TestCheckDeadIPv6(t *testing.T) {
	port := blackholeListener(t)
	v4, err := net.Listen("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
	if err != nil {
		t.Skipf("port %d is taken on 127.0.0.1: %v", port, err)
	}
	s := newFetchSetup(t, v4, nil, recordTXT, policyHostA, "mta-sts.mail.test. 300 IN AAAA ::1")
	const budget = 2 * time.Second
	start := time.Now()
	r := mtasts.Check(testContext(t, budget), testDomain, s.opts)
	if r.Result != mtasts.ResultOK || r.PolicyAddr.Addr().String() != "127.0.0.1" {
		t.Fatalf("Result = %q (%v) from %v, want ok from 127.0.0.1", r.Result, r.Err, r.PolicyAddr)
	}
	if took := time.Since(start); took < budget/4 || took > budget {
		t.Errorf("Check took %v: the IPv6 attempt did not wait for its share of %v", took, budget)
	}
}

// blackholeListener listens on [::1] with an accept queue that one
// unaccepted connection fills, so that the kernel drops further SYNs. It
// returns the port.
func blackholeListener(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no IPv6 socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet6).Port
	filler, err := net.DialTimeout("tcp", netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)).String(), time.Second)
	if err != nil {
		t.Fatalf("filling the accept queue: %v", err)
	}
	t.Cleanup(func() { filler.Close() })
	return port
}
