package probe

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
)

// Target is a parsed probe target.
type Target struct {
	// Host is lower-case, without brackets or a trailing dot.
	Host string
	// Port is the port the target names, 0 when it names none.
	Port int
	// IP is set when Host is an IP literal.
	IP netip.Addr
}

// TargetError says why a target cannot be probed; Reason is the
// smtp_exporter_request_errors_total label.
type TargetError struct {
	// Reason is bad_target or bad_port.
	Reason string
	// Msg is the one-line explanation.
	Msg string
}

func (e *TargetError) Error() string { return e.Msg }

func badTarget(format string, args ...any) error {
	return &TargetError{Reason: "bad_target", Msg: fmt.Sprintf(format, args...)}
}

func badPort(format string, args ...any) error {
	return &TargetError{Reason: "bad_port", Msg: fmt.Sprintf(format, args...)}
}

// maxHostLength is the longest DNS name (RFC 1035), without trailing dot.
const maxHostLength = 253

// ParseTarget parses host, host:port, [v6]:port or an IP literal.
func ParseTarget(raw string) (Target, error) {
	if raw == "" {
		return Target{}, badTarget("target is empty")
	}
	for _, r := range raw {
		if r <= ' ' || r >= 0x7f {
			return Target{}, badTarget("target %q contains a space, control or non-ASCII character", raw)
		}
	}
	if strings.Contains(raw, "/") || strings.Contains(raw, "@") {
		return Target{}, badTarget("target %q looks like a URL or address; give host, host:port or [v6]:port", raw)
	}
	host, portText, hasPort, err := splitTarget(raw)
	if err != nil {
		return Target{}, err
	}
	t, err := parseHost(host)
	if err != nil {
		return Target{}, err
	}
	if hasPort {
		if t.Port, err = parsePort(portText); err != nil {
			return Target{}, err
		}
	}
	return t, nil
}

// splitTarget separates host and port; a bare IPv6 address has no port.
func splitTarget(raw string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(raw, "[") {
		end := strings.Index(raw, "]")
		if end < 0 {
			return "", "", false, badTarget("target %q has an unbalanced '['", raw)
		}
		host, rest := raw[1:end], raw[end+1:]
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", false, badTarget("target %q: only an IP address goes inside brackets", raw)
		}
		switch {
		case rest == "":
			return host, "", false, nil
		case strings.HasPrefix(rest, ":"):
			return host, rest[1:], true, nil
		}
		return "", "", false, badTarget("target %q has text after ']' that is not :port", raw)
	}
	if strings.Contains(raw, "]") {
		return "", "", false, badTarget("target %q has an unbalanced ']'", raw)
	}
	switch strings.Count(raw, ":") {
	case 0:
		return raw, "", false, nil
	case 1:
		host, port, _ := strings.Cut(raw, ":")
		return host, port, true, nil
	}
	return raw, "", false, nil // an IPv6 literal without brackets
}

func parseHost(host string) (Target, error) {
	// The trailing dot goes first, so that "192.0.2.1." is an IP like the
	// "192.0.2.1" it canonicalizes to.
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(name); err == nil {
		if ip.Zone() != "" {
			return Target{}, badTarget("target %q: IPv6 zones are not supported", host)
		}
		ip = ip.Unmap()
		return Target{Host: ip.String(), IP: ip}, nil
	}
	if err := checkHostname(name); err != nil {
		return Target{}, err
	}
	return Target{Host: name}, nil
}

// checkHostname accepts DNS names of letters, digits, hyphens and
// underscores, in labels of 1–63 characters.
func checkHostname(name string) error {
	if name == "" {
		return badTarget("target has an empty host")
	}
	if len(name) > maxHostLength {
		return badTarget("target host is %d characters long, more than %d", len(name), maxHostLength)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return badTarget("target host %q has an empty label or one over 63 characters", name)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return badTarget("target host %q has a label that starts or ends with '-'", name)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !smtpwire.IsAlnum(c) && c != '-' && c != '_' {
				return badTarget("target host %q has the character %q, not allowed in a host name", name, c)
			}
		}
	}
	return nil
}

func parsePort(text string) (int, error) {
	if text == "" {
		return 0, badPort("target has an empty port")
	}
	for i := 0; i < len(text); i++ {
		if !smtpwire.IsDigit(text[i]) {
			return 0, badPort("target port %q is not a number", text)
		}
	}
	port, err := strconv.Atoi(text)
	if err != nil || port < 1 || port > 65535 {
		return 0, badPort("target port %s is outside 1–65535", text)
	}
	return port, nil
}
