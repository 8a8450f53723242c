package dnsclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// ErrNoNameserver is returned by FirstNameserver when the file names no
// usable nameserver.
var ErrNoNameserver = errors.New("no nameserver line with an IP address")

// maxResolvConfLine bounds one line of resolv.conf; longer lines are an error.
const maxResolvConfLine = 4096

// FirstNameserver returns the address of the first "nameserver" line of a
// resolv.conf (resolv.conf(5)): lines starting with '#' or ';' are comments,
// as is anything after '#' or ';' on a nameserver line; a nameserver whose
// value is not an IP address is skipped, as the C library does. An IPv6
// address may carry a zone ("fe80::1%eth0"). IPv4-mapped IPv6 addresses are
// returned as IPv4.
func FirstNameserver(r io.Reader) (netip.Addr, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxResolvConfLine)
	for sc.Scan() {
		if addr, ok := nameserverLine(sc.Text()); ok {
			return addr, nil
		}
	}
	if err := sc.Err(); err != nil {
		return netip.Addr{}, fmt.Errorf("reading resolv.conf: %w", err)
	}
	return netip.Addr{}, ErrNoNameserver
}

// nameserverLine returns the address of a "nameserver ADDR" line.
func nameserverLine(line string) (netip.Addr, bool) {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[0] != "nameserver" {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(fields[1])
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}
