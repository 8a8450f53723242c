package probe

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseTargetValid(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := strings.Join([]string{label63, label63, label63, strings.Repeat("b", 61)}, ".")
	noIP := netip.Addr{}
	tests := []struct {
		raw  string
		want Target
	}{
		{"mail.example.com", Target{Host: "mail.example.com", IP: noIP}},
		{"mail.example.com:25", Target{Host: "mail.example.com", Port: 25}},
		{"UPPER.case.Example.COM.", Target{Host: "upper.case.example.com"}},
		{"UPPER.case.Example.COM.:587", Target{Host: "upper.case.example.com", Port: 587}},
		{"localhost", Target{Host: "localhost"}},
		{"_submission._tcp.example.com", Target{Host: "_submission._tcp.example.com"}},
		{"xn--bcher-kva.example", Target{Host: "xn--bcher-kva.example"}},
		{"1mail.example:2525", Target{Host: "1mail.example", Port: 2525}},
		{"mx-1.example.com:65535", Target{Host: "mx-1.example.com", Port: 65535}},
		{"example.com:1", Target{Host: "example.com", Port: 1}},
		{"example.com:0025", Target{Host: "example.com", Port: 25}},
		{label63 + ".example", Target{Host: label63 + ".example"}},
		{name253, Target{Host: name253}},
		{name253 + ".", Target{Host: name253}},
		{"192.0.2.1", Target{Host: "192.0.2.1", IP: netip.MustParseAddr("192.0.2.1")}},
		{"192.0.2.1:25", Target{Host: "192.0.2.1", Port: 25, IP: netip.MustParseAddr("192.0.2.1")}},
		{"[192.0.2.1]:25", Target{Host: "192.0.2.1", Port: 25, IP: netip.MustParseAddr("192.0.2.1")}},
		{"192.0.2.1.", Target{Host: "192.0.2.1", IP: netip.MustParseAddr("192.0.2.1")}},
		{"[2001:db8::1]:587", Target{Host: "2001:db8::1", Port: 587, IP: netip.MustParseAddr("2001:db8::1")}},
		{"2001:db8::1", Target{Host: "2001:db8::1", IP: netip.MustParseAddr("2001:db8::1")}},
		{"2001:DB8:0:0::A", Target{Host: "2001:db8::a", IP: netip.MustParseAddr("2001:db8::a")}},
		{"[::1]", Target{Host: "::1", IP: netip.MustParseAddr("::1")}},
		{"[::1]:25", Target{Host: "::1", Port: 25, IP: netip.MustParseAddr("::1")}},
		{"::ffff:192.0.2.1", Target{Host: "192.0.2.1", IP: netip.MustParseAddr("192.0.2.1")}},
		{"[::ffff:192.0.2.1]:465", Target{Host: "192.0.2.1", Port: 465, IP: netip.MustParseAddr("192.0.2.1")}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseTarget(tt.raw)
			if err != nil {
				t.Fatalf("ParseTarget(%q) error: %v", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("ParseTarget(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
			if got.IP.IsValid() && (got.IP.Is4In6() || got.IP.Zone() != "") {
				t.Errorf("ParseTarget(%q).IP = %s, want unmapped and without zone", tt.raw, got.IP)
			}
		})
	}
}

func TestParseTargetInvalid(t *testing.T) {
	label64 := strings.Repeat("a", 64)
	name254 := strings.Repeat("abcdefghi.", 25) + "abcd"
	tests := []struct {
		name, raw, reason, msg string
	}{
		{"empty", "", "bad_target", "target is empty"},
		{"url", "smtp://mail.example.com", "bad_target", `target "smtp://mail.example.com" looks like a URL or address; give host, host:port or [v6]:port`},
		{"path", "mail.example.com/x", "bad_target", `target "mail.example.com/x" looks like a URL or address; give host, host:port or [v6]:port`},
		{"mailbox", "postmaster@example.com", "bad_target", `target "postmaster@example.com" looks like a URL or address; give host, host:port or [v6]:port`},
		{"unclosed bracket", "[2001:db8::1", "bad_target", `target "[2001:db8::1" has an unbalanced '['`},
		{"name in brackets", "[example.com]:25", "bad_target", `target "[example.com]:25": only an IP address goes inside brackets`},
		{"unopened bracket", "2001:db8::1]:25", "bad_target", `target "2001:db8::1]:25" has an unbalanced ']'`},
		{"text after bracket", "[::1]x", "bad_target", `target "[::1]x" has text after ']' that is not :port`},
		{"double close bracket", "[::1]]:25", "bad_target", `target "[::1]]:25" has text after ']' that is not :port`},
		{"CRLF", "mail.example.com\r\nQUIT", "bad_target", `target "mail.example.com\r\nQUIT" contains a space, control or non-ASCII character`},
		{"LF", "mail\n.example.com", "bad_target", `target "mail\n.example.com" contains a space, control or non-ASCII character`},
		{"NUL", "mail\x00.example.com", "bad_target", `target "mail\x00.example.com" contains a space, control or non-ASCII character`},
		{"space", "mail example.com", "bad_target", `target "mail example.com" contains a space, control or non-ASCII character`},
		{"tab", "mail.example.com:\t25", "bad_target", `target "mail.example.com:\t25" contains a space, control or non-ASCII character`},
		{"trailing space", "mail.example.com ", "bad_target", `target "mail.example.com " contains a space, control or non-ASCII character`},
		{"DEL", "mail\x7f.example.com", "bad_target", `target "mail\x7f.example.com" contains a space, control or non-ASCII character`},
		{"IDN unicode", "bücher.example", "bad_target", `target "bücher.example" contains a space, control or non-ASCII character`},
		{"invalid UTF-8", "mail\xff.example", "bad_target", `target "mail\xff.example" contains a space, control or non-ASCII character`},
		{"label over 63", label64 + ".example", "bad_target", `target host "` + label64 + `.example" has an empty label or one over 63 characters`},
		{"name over 253", name254, "bad_target", "target host is 254 characters long, more than 253"},
		{"empty label", "a..b", "bad_target", `target host "a..b" has an empty label or one over 63 characters`},
		{"leading dot", ".example.com", "bad_target", `target host ".example.com" has an empty label or one over 63 characters`},
		{"two trailing dots", "example.com..", "bad_target", `target host "example.com." has an empty label or one over 63 characters`},
		{"only a dot", ".", "bad_target", "target has an empty host"},
		{"leading hyphen", "-mail.example.com", "bad_target", `target host "-mail.example.com" has a label that starts or ends with '-'`},
		{"trailing hyphen", "mail-.example.com", "bad_target", `target host "mail-.example.com" has a label that starts or ends with '-'`},
		{"bad character", "mail!.example.com", "bad_target", `target host "mail!.example.com" has the character '!', not allowed in a host name`},
		{"empty host with port", ":25", "bad_target", "target has an empty host"},
		{"empty brackets", "[]:25", "bad_target", `target "[]:25": only an IP address goes inside brackets`},
		{"two colons", "mail.example.com:25:26", "bad_target", `target host "mail.example.com:25:26" has the character ':', not allowed in a host name`},
		{"zone", "fe80::1%eth0", "bad_target", `target "fe80::1%eth0": IPv6 zones are not supported`},
		{"bracketed zone", "[fe80::1%25eth0]:25", "bad_target", `target "fe80::1%25eth0": IPv6 zones are not supported`},
		{"port 0", "mail.example.com:0", "bad_port", "target port 0 is outside 1–65535"},
		{"port 65536", "mail.example.com:65536", "bad_port", "target port 65536 is outside 1–65535"},
		{"port overflow", "mail.example.com:99999999999999999999", "bad_port", "target port 99999999999999999999 is outside 1–65535"},
		{"empty port", "mail.example.com:", "bad_port", "target has an empty port"},
		{"empty port v6", "[::1]:", "bad_port", "target has an empty port"},
		{"port 0 v6", "[::1]:0", "bad_port", "target port 0 is outside 1–65535"},
		{"service name", "mail.example.com:smtp", "bad_port", `target port "smtp" is not a number`},
		{"negative port", "mail.example.com:-25", "bad_port", `target port "-25" is not a number`},
		{"signed port", "mail.example.com:+25", "bad_port", `target port "+25" is not a number`},
		{"hex port", "192.0.2.1:0x19", "bad_port", `target port "0x19" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.raw)
			if err == nil {
				t.Fatalf("ParseTarget(%q) = %+v, want a %s error", tt.raw, got, tt.reason)
			}
			var te *TargetError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTarget(%q) error %v (%T) is no *TargetError", tt.raw, err, err)
			}
			if te.Reason != tt.reason || te.Error() != tt.msg {
				t.Errorf("ParseTarget(%q) = %s %q\nwant %s %q", tt.raw, te.Reason, te.Error(), tt.reason, tt.msg)
			}
			if got != (Target{}) {
				t.Errorf("ParseTarget(%q) returned %+v with its error, want the zero Target", tt.raw, got)
			}
		})
	}
}

// canonicalTarget writes t back as a target parameter.
func canonicalTarget(t Target) string {
	host := t.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if t.Port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(t.Port)
}

func FuzzParseTarget(f *testing.F) {
	for _, seed := range []string{
		"", "mail.example.com", "mail.example.com:25", "UPPER.Example.COM.:587",
		"192.0.2.1", "192.0.2.1:25", "192.0.2.1.", "[2001:db8::1]:587", "2001:db8::1",
		"[::1]", "::ffff:192.0.2.1", "[::ffff:192.0.2.1]:25", "fe80::1%eth0",
		"smtp://x", "user@host", "[::1]x", "[::1", "a..b", "-a.example", "a:0",
		"a:65536", "a:", "a:b:c", "bücher.example", "x\r\ny", "[]:25", "_dmarc.example",
		"[example.com]:25", "1.2.3", "0x7f.1", "::", "[::]:0025",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParseTarget(raw)
		if err != nil {
			var te *TargetError
			if !errors.As(err, &te) || (te.Reason != "bad_target" && te.Reason != "bad_port") {
				t.Fatalf("ParseTarget(%q) error %v is no TargetError with a known reason", raw, err)
			}
			if strings.ContainsAny(te.Msg, "\r\n") {
				t.Fatalf("ParseTarget(%q) error message spans lines: %q", raw, te.Msg)
			}
			return
		}
		if got.Host == "" || got.Host != strings.ToLower(got.Host) ||
			strings.ContainsAny(got.Host, "[]%") || strings.HasSuffix(got.Host, ".") {
			t.Fatalf("ParseTarget(%q).Host = %q: want non-empty, lower-case, no brackets, zone or trailing dot", raw, got.Host)
		}
		if got.Port < 0 || got.Port > 65535 {
			t.Fatalf("ParseTarget(%q).Port = %d", raw, got.Port)
		}
		if got.IP.IsValid() && (got.IP.String() != got.Host || got.IP.Is4In6() || got.IP.Zone() != "") {
			t.Fatalf("ParseTarget(%q) = host %q, IP %s: IP must be the unmapped host", raw, got.Host, got.IP)
		}
		canonical := canonicalTarget(got)
		again, err := ParseTarget(canonical)
		if err != nil {
			t.Fatalf("ParseTarget(%q) = %+v, but its canonical form %q fails: %v", raw, got, canonical, err)
		}
		if again != got {
			t.Fatalf("ParseTarget(%q) = %+v, but ParseTarget(%q) = %+v", raw, got, canonical, again)
		}
	})
}
