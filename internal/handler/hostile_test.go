package handler

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/probe"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
)

// answerSlack is what SPEC allows past the budget: the answer arrives within
// the budget + 250 ms, whatever the servers do.
const answerSlack = 250 * time.Millisecond

// hugeLineBytes is the length of the reply line the hostile server streams.
const hugeLineBytes = 50 << 20

// ehloServer greets, reads EHLO and leaves the rest to answer.
func ehloServer(answer func(c *smtptest.ScriptConn)) func(t testing.TB) int {
	return func(t testing.TB) int {
		return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
			c.Say("220 hostile.test ESMTP")
			if c.ExpectVerb("EHLO") {
				answer(c)
			}
		})
	}
}

// starttlsServer advertises STARTTLS, reads the command and leaves the rest
// to answer.
func starttlsServer(answer func(c *smtptest.ScriptConn)) func(t testing.TB) int {
	return ehloServer(func(c *smtptest.ScriptConn) {
		c.Say("250-hostile.test", "250 STARTTLS")
		if c.ExpectVerb("STARTTLS") {
			answer(c)
		}
	})
}

// streamer is a server that sends "220 " and then a reply line of size
// bytes without an end, counting what the network took.
type streamer struct {
	size int64
	sent chan int64 // bytes written before the write failed or finished
}

func newStreamer(size int64) *streamer { return &streamer{size: size, sent: make(chan int64, 1)} }

func (s *streamer) server(t testing.TB) int {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
		n, err := io.WriteString(c, "220 ")
		sent := int64(n)
		for err == nil && sent < s.size {
			n, err = c.Write(chunk[:min(int64(len(chunk)), s.size-sent)])
			sent += int64(n)
		}
		if err == nil {
			c.Say("")
			c.WaitGone(5 * time.Second)
		}
		select {
		case s.sent <- sent:
		default:
		}
	})
}

// endless answers a command (or greets, with code 220) with a multi-line
// reply that never ends: "CODE-x" lines as fast as the network takes them.
func endless(c *smtptest.ScriptConn, code string) {
	block := bytes.Repeat([]byte(code+"-x\r\n"), 1000)
	for {
		if _, err := c.Write(block); err != nil {
			return
		}
	}
}

// garbageBytes are 64 KiB of fixed pseudo-random bytes.
var garbageBytes = func() []byte {
	buf := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{'s', 'm', 't', 'p'}).Read(buf)
	buf[0] = 0x00 // whatever the seed, never a reply code
	return buf
}()

// garbage sends binary garbage for a greeting and holds the line.
func garbage(c *smtptest.ScriptConn) {
	c.Write(garbageBytes)
	c.WaitGone(5 * time.Second)
}

// oneByteASecond sends a perfectly good greeting, one byte a second.
func oneByteASecond(c *smtptest.ScriptConn) {
	for _, b := range []byte("220 slow.test ESMTP\r\n") {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Reader().ReadByte(); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return // the client spoke out of turn or went away
		}
	}
	c.WaitGone(5 * time.Second)
}

// madeUpEHLO is an EHLO reply with n invented keywords, each IANA keyword,
// and invented ones again.
func madeUpEHLO(n int) []string {
	lines := []string{"250-hostile.test"}
	for i := range n / 2 {
		lines = append(lines, fmt.Sprintf("250-X-MADE-UP-%04d some params", i))
	}
	for _, k := range smtpwire.RegisteredExtensions() {
		param := ""
		switch k {
		case "SIZE":
			param = " 1048576"
		case "AUTH":
			param = " PLAIN LOGIN X-INVENTED"
		}
		lines = append(lines, "250-"+strings.ToLower(k)+param)
	}
	for i := n / 2; i < n; i++ {
		lines = append(lines, fmt.Sprintf("250-Z%d", i))
	}
	lines = append(lines, "250 LAST-MADE-UP")
	return lines
}

// manyLines is an EHLO reply of n lines.
func manyLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("250-X%d", i)
	}
	lines[0], lines[n-1] = "250-hostile.test", "250 X-END"
	return lines
}

// certWant is what the certificate series must say; nil in a case means the
// series are absent.
type certWant struct {
	verified, hostnameMatch float64
	expired                 bool
}

// hostileCase is one misbehaving (or legitimately odd) server, probed
// through the HTTP handler.
type hostileCase struct {
	name   string
	server func(t testing.TB) int
	mode   string // the port's tls mode
	module string // module settings besides timeout and ports
	// Either the module timeout or the scrape timeout header (less the
	// fixture's 0.5 s offset) sets the budget.
	timeout string
	header  string
	budget  time.Duration

	wantUp        float64
	phase, reason string // "" for success
	wantStatus    float64
	cert          *certWant
	check         func(t *testing.T, s scrape, ep []string)
}

func hostileCases(t *testing.T) []hostileCase {
	ca := smtptest.NewCA(t)
	withCA := "tls_config: {ca_file: " + ca.WriteFile(t) + "}\n"
	good := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
	expired := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	wrongName := ca.Issue(t, smtptest.CertSpec{Names: []string{"other.test"}})
	selfSigned := (*smtptest.CA)(nil).Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
	rsa := smtptest.RSACert(t)
	huge := newStreamer(hugeLineBytes)

	return []hostileCase{
		{
			name:   "accepts and never greets",
			server: func(t testing.TB) int { return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { c.Hear() }) },
			mode:   "starttls", timeout: "10s", header: "1.5", budget: time.Second,
			phase: "banner", reason: "timeout",
		},
		{
			name:   "greets one byte a second",
			server: func(t testing.TB) int { return smtptest.Scripted(t, oneByteASecond) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "timeout",
		},
		{
			name:   "greeting line of 50 MB",
			server: huge.server,
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "protocol",
			check: func(t *testing.T, _ scrape, _ []string) {
				select {
				case sent := <-huge.sent:
					t.Logf("the server got %d of %d bytes into the network before the prober hung up", sent, int64(hugeLineBytes))
					if sent >= hugeLineBytes {
						t.Errorf("the server sent all %d bytes: the prober read the whole line instead of stopping at %d", sent, smtpwire.MaxLineBytes)
					}
				case <-time.After(3 * time.Second):
					t.Error("the streaming server still writes 3 s after the answer: the prober keeps reading")
				}
			},
		},
		{
			name: "endless multi-line greeting",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { endless(c, "220") })
			},
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "protocol",
		},
		{
			name:   "endless multi-line EHLO reply",
			server: ehloServer(func(c *smtptest.ScriptConn) { endless(c, "250") }),
			mode:   "starttls", timeout: "1s", budget: time.Second,
			wantUp: 0, phase: "ehlo", reason: "protocol",
		},
		{
			name: "EHLO reply over 64 KiB in few lines",
			server: ehloServer(func(c *smtptest.ScriptConn) {
				line := "250-" + strings.Repeat("A", 4000)
				for range 20 {
					c.Say(line)
				}
				c.Say("250 END")
				c.WaitGone(5 * time.Second)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "ehlo", reason: "protocol",
		},
		{
			name:   "binary garbage",
			server: func(t testing.TB) int { return smtptest.Scripted(t, garbage) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "protocol",
		},
		{
			name: "bytes injected with the 220 to STARTTLS",
			server: starttlsServer(func(c *smtptest.ScriptConn) {
				c.Write([]byte("220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n"))
				c.Hear()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "protocol",
		},
		{
			// A reset at once on accept can reach the client before its
			// connect() has returned, and is then connect/reset; the pause
			// lets the client settle into waiting for the greeting.
			name: "reset before the greeting",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { time.Sleep(100 * time.Millisecond); c.Abort() })
			},
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "reset",
		},
		{
			name:   "closed before the greeting",
			server: func(t testing.TB) int { return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { c.Close() }) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "reset",
		},
		{
			name: "closed inside the greeting line",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { io.WriteString(c, "220 half a gree") })
			},
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "reset",
		},
		{
			// The server hangs up right after its EHLO reply; the prober's
			// STARTTLS meets a closed (then reset) connection.
			name: "closed after the EHLO reply",
			server: ehloServer(func(c *smtptest.ScriptConn) {
				c.Say("250-hostile.test", "250 STARTTLS")
				c.Close()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "reset",
		},
		{
			// On a none port the only command left is QUIT, and a missing
			// 221 never fails an endpoint.
			name: "closed after the EHLO reply, none port",
			server: ehloServer(func(c *smtptest.ScriptConn) {
				c.Say("250-hostile.test", "250 STARTTLS")
				c.Close()
			}),
			mode: "none", timeout: "1s", budget: time.Second,
			wantUp: 1, wantStatus: 250,
		},
		{
			name:   "reset on STARTTLS",
			server: starttlsServer((*smtptest.ScriptConn).Abort),
			mode:   "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "reset",
		},
		{
			name: "reset mid-handshake",
			server: starttlsServer(func(c *smtptest.ScriptConn) {
				c.Say("220 go ahead")
				c.Reader().Read(make([]byte, 512)) // the ClientHello
				c.Abort()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "reset",
		},
		{
			name: "closed mid-handshake",
			server: starttlsServer(func(c *smtptest.ScriptConn) {
				c.Say("220 go ahead")
				c.Reader().Read(make([]byte, 512))
				c.Close()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "reset",
		},
		{
			name: "reset mid-handshake, implicit TLS",
			server: func(t testing.TB) int {
				return smtptest.Scripted(t, func(c *smtptest.ScriptConn) { c.Reader().Read(make([]byte, 512)); c.Abort() })
			},
			mode: "implicit", timeout: "1s", budget: time.Second,
			phase: "tls", reason: "reset",
		},
		{
			name: "handshake never answered",
			server: starttlsServer(func(c *smtptest.ScriptConn) {
				c.Say("220 go ahead")
				c.WaitGone(5 * time.Second)
			}),
			mode: "starttls", timeout: "10s", header: "1.5", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "timeout",
		},
		{
			name: "STARTTLS advertised but refused",
			server: starttlsServer(func(c *smtptest.ScriptConn) {
				c.Say("454 4.7.0 TLS not available due to temporary reason")
				c.ServeUntilQuit()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "reply_code", wantStatus: 454,
		},
		{
			name: "TLS handshake answered with junk",
			server: starttlsServer(func(c *smtptest.ScriptConn) {
				c.Say("220 go ahead")
				c.Reader().Read(make([]byte, 512))
				c.Write([]byte("this is not TLS at all\r\n"))
				c.WaitGone(5 * time.Second)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "tls_handshake",
		},
		{
			name: "TLS 1.0 only",
			server: smtptest.GoSMTPServer{TLS: &tls.Config{Certificates: []tls.Certificate{rsa},
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}}.Start,
			mode: "starttls", timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, wantStatus: 250,
			cert: &certWant{verified: 0, hostnameMatch: 1},
			check: func(t *testing.T, s scrape, ep []string) {
				s.want(t, 1, "probe_tls_version_info", append(ep, "version", "TLS 1.0")...)
			},
		},
		{
			name: "RSA key exchange only",
			server: smtptest.GoSMTPServer{TLS: &tls.Config{Certificates: []tls.Certificate{rsa}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}}}.Start,
			mode: "starttls", timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, wantStatus: 250,
			cert: &certWant{verified: 0, hostnameMatch: 1},
			check: func(t *testing.T, s scrape, ep []string) {
				s.want(t, 1, "probe_tls_version_info", append(ep, "version", "TLS 1.2")...)
				s.want(t, 1, "probe_tls_cipher_info", append(ep, "cipher", "TLS_RSA_WITH_AES_128_CBC_SHA")...)
			},
		},
		{
			name:   "expired certificate",
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(expired), Implicit: true}.Start,
			mode:   "implicit", module: withCA, timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, phase: "tls", reason: "cert_expired",
			cert: &certWant{verified: 0, hostnameMatch: 1, expired: true},
		},
		{
			name:   "self-signed certificate",
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(selfSigned), Implicit: true}.Start,
			mode:   "implicit", timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, phase: "tls", reason: "cert_unverified",
			cert: &certWant{verified: 0, hostnameMatch: 1},
		},
		{
			name:   "certificate for another name",
			server: smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(wrongName), Implicit: true}.Start,
			mode:   "implicit", module: withCA, timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, phase: "tls", reason: "cert_hostname",
			cert: &certWant{verified: 1, hostnameMatch: 0},
		},
		{
			name: "handshake fails after the Certificate message",
			server: func(t testing.TB) int {
				cfg := smtptest.ServerTLS(good)
				cfg.MaxVersion = tls.VersionTLS12
				cfg.ClientAuth = tls.RequireAnyClientCert
				return smtptest.GoSMTPServer{TLS: cfg, Implicit: true}.Start(t)
			},
			mode: "implicit", module: withCA, timeout: "3s", budget: 3 * time.Second,
			phase: "tls", reason: "tls_handshake",
			cert: &certWant{verified: 1, hostnameMatch: 1},
			check: func(t *testing.T, s scrape, _ []string) {
				s.absent(t, "probe_tls_version_info")
			},
		},
		{
			name: "EHLO reply of 1,500 lines",
			server: ehloServer(func(c *smtptest.ScriptConn) {
				c.Say(manyLines(1500)...)
				c.WaitGone(5 * time.Second)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "ehlo", reason: "protocol",
		},
		{
			name: "EHLO reply with 900 made-up keywords",
			server: ehloServer(func(c *smtptest.ScriptConn) {
				c.Say(madeUpEHLO(900)...)
				c.ServeUntilQuit()
			}),
			mode: "none", timeout: "1s", budget: time.Second,
			wantUp: 1, wantStatus: 250,
			check: func(t *testing.T, s scrape, ep []string) {
				var got, want []string
				for _, m := range s.series("probe_smtp_extension_info", ep...) {
					for _, lp := range m.GetLabel() {
						if lp.GetName() == "extension" {
							got = append(got, lp.GetValue())
						}
					}
				}
				for _, k := range smtpwire.RegisteredExtensions() {
					want = append(want, k)
				}
				sort.Strings(got)
				sort.Strings(want)
				if len(got) > smtpwire.MaxExtensionSeries || strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%d extension series %q, want at most %d, exactly the IANA keywords %q", len(got), got, smtpwire.MaxExtensionSeries, want)
				}
				s.want(t, 1048576, "probe_smtp_size_limit_bytes", ep...)
				s.want(t, 1, "probe_smtp_auth_mechanism_info", append(ep, "mechanism", "OTHER", "tls", "false")...)
				if n := len(s.series("probe_smtp_auth_mechanism_info", ep...)); n != 3 {
					t.Errorf("%d AUTH mechanism series, want 3 (PLAIN, LOGIN, OTHER)", n)
				}
			},
		},
		{
			name:   "HELO-only server",
			server: func(t testing.TB) int { return smtptest.HeloOnlyServer(t, "500 5.5.1 command unrecognized") },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, wantStatus: 250,
			check: func(t *testing.T, s scrape, ep []string) {
				s.want(t, 0, "probe_smtp_starttls_advertised", ep...)
				s.absent(t, "probe_smtp_extension_info")
			},
		},
	}
}

// TestHostileServers probes each misbehaving server through the HTTP
// handler and checks the answer's time, failure phase and reason, and the
// certificate series.
func TestHostileServers(t *testing.T) {
	for _, tc := range hostileCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := tc.server(t)
			body := "timeout: " + tc.timeout + "\n" + tc.module + smtptest.PortModule(port, tc.mode, "")
			f := newHandlerFixture(t, modulesYAML(map[string]string{"default": body}), fixtureOptions{})
			var headers []string
			if tc.header != "" {
				headers = []string{scrapeTimeoutHeader, tc.header}
			}
			start := time.Now()
			rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", false), headers...)
			took := time.Since(start)
			if took > tc.budget+answerSlack {
				t.Errorf("answer took %s, budget %s + %s", took, tc.budget, answerSlack)
			}
			if rec.Code != 200 {
				t.Fatalf("status %d, want 200; body %q", rec.Code, rec.Body)
			}
			s := parseExposition(t, rec.Body.String())
			ep := []string{"host", "127.0.0.1", "port", strconv.Itoa(port)}
			checkHostile(t, s, ep, tc)
			if t.Failed() {
				// The transcript says what happened; the probe is cheap to repeat.
				t.Logf("debug output:\n%s", f.probe(t.Context(), probeQuery(loopbackTarget(port), "", true), headers...).Body)
			}
		})
	}
}

func checkHostile(t *testing.T, s scrape, ep []string, tc hostileCase) {
	t.Helper()
	failures := s.series("probe_smtp_failure_info")
	if tc.phase == "" {
		s.want(t, 1, "probe_success")
		if len(failures) != 0 {
			t.Errorf("failure series %v on a successful probe", failures)
		}
	} else {
		s.want(t, 0, "probe_success")
		s.want(t, 1, "probe_smtp_failure_info", append(ep, "phase", tc.phase, "reason", tc.reason)...)
		if len(failures) != 1 {
			t.Errorf("%d failure series, want exactly 1: %v", len(failures), failures)
		}
	}
	s.want(t, tc.wantUp, "probe_smtp_up", ep...)
	s.want(t, tc.wantStatus, "probe_smtp_status_code", ep...)
	if d := s.series("probe_duration_seconds"); len(d) != 1 || dtoValue(d[0]) > (tc.budget+answerSlack).Seconds() {
		t.Errorf("probe_duration_seconds %v, want one series within the budget", d)
	}
	if tc.cert == nil {
		s.absent(t, "probe_smtp_cert_expiry_timestamp_seconds")
		s.absent(t, "probe_smtp_cert_verified")
	} else {
		if n := len(s.series("probe_smtp_cert_expiry_timestamp_seconds", ep...)); n != 1 {
			t.Errorf("%d probe_smtp_cert_expiry_timestamp_seconds series, want 1: a certificate was seen", n)
		}
		s.want(t, tc.cert.verified, "probe_smtp_cert_verified", ep...)
		s.want(t, tc.cert.hostnameMatch, "probe_smtp_cert_hostname_match", ep...)
		if days := s.series("probe_smtp_cert_days_until_expiry", ep...); len(days) != 1 || (dtoValue(days[0]) < 0) != tc.cert.expired {
			t.Errorf("probe_smtp_cert_days_until_expiry %v, want one series, negative iff expired (%t)", days, tc.cert.expired)
		}
	}
	if tc.check != nil {
		tc.check(t, s, ep)
	}
}

// TestHostileIPv6Loopback probes a server on [::1].
func TestHostileIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	port := smtptest.GoSMTPServer{}.Serve(t, ln)

	f := newHandlerFixture(t, oneModule("2s", "starttls", port), fixtureOptions{})
	start := time.Now()
	rec := f.probe(t.Context(), probeQuery("[::1]:"+strconv.Itoa(port), "", false))
	if took := time.Since(start); took > 2*time.Second+answerSlack {
		t.Errorf("answer took %s", took)
	}
	e := parseExposition(t, rec.Body.String())
	ep := []string{"host", "::1", "port", strconv.Itoa(port)}
	e.want(t, 1, "probe_success")
	e.want(t, 1, "probe_smtp_up", ep...)
	e.want(t, 6, "probe_ip_protocol", ep...)
	e.want(t, 250, "probe_smtp_status_code", ep...)
	if t.Failed() {
		t.Logf("scrape:\n%s", rec.Body)
	}
}

// ehloPayload greets, reads EHLO, and answers with payload, built before
// any probe so that the server's own allocations stay out of the count.
func ehloPayload(lines []string) func(t testing.TB) int {
	payload := []byte(strings.Join(lines, "\r\n") + "\r\n")
	return ehloServer(func(c *smtptest.ScriptConn) {
		c.Write(payload)
		c.ServeUntilQuit()
	})
}

// TestHostileProbeMemory measures what one probe of a hostile server costs
// in heap allocations, the servers' (allocation-free once started) and the
// test's included: the caps on line length and reply size must keep it to
// the reply caps plus constant overhead, whatever the server sends. It
// measures the session alone and the whole HTTP request.
func TestHostileProbeMemory(t *testing.T) {
	// The brief's bound for anything, and a tighter one for the session:
	// the reply caps (64 KiB kept, 4 KiB buffered) and constant overhead.
	const limit, sessionLimit = 4 << 20, 4 * smtpwire.MaxReplyBytes
	fat := make([]string, 20)
	for i := range fat {
		fat[i] = "250-" + strings.Repeat("A", 4000)
	}
	cases := []struct {
		name   string
		server func(t testing.TB) int
		want   string // phase/reason
	}{
		{"well-behaved server (for scale)", ehloPayload([]string{"250-hostile.test", "250 SIZE 1000"}), ""},
		{"greeting line of 50 MB", newStreamer(hugeLineBytes).server, "banner/protocol"},
		{"endless multi-line EHLO reply", ehloServer(func(c *smtptest.ScriptConn) { endless(c, "250") }), "ehlo/protocol"},
		{"EHLO reply over 64 KiB", ehloPayload(fat), "ehlo/protocol"},
		{"EHLO reply of 1,500 lines", ehloPayload(manyLines(1500)), "ehlo/protocol"},
		{"binary garbage", func(t testing.TB) int { return smtptest.Scripted(t, garbage) }, "banner/protocol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.server(t)
			body := "timeout: 2s\n" + smtptest.PortModule(port, "none", "")
			f := newHandlerFixture(t, modulesYAML(map[string]string{"default": body}), fixtureOptions{})
			query := probeQuery(loopbackTarget(port), "", false)
			var r *probe.Result
			session := func() { r = runProbe(t, f, "default", port) }
			request := func() { f.probe(t.Context(), query) }

			for _, run := range []struct {
				what string
				f    func()
			}{{"session", session}, {"HTTP request", request}} {
				run.f() // warm up: first-use allocations are not the probe's
				alloc, objects := allocations(run.f)
				t.Logf("%s allocated %d bytes (%.1f KiB) in %d objects", run.what, alloc, float64(alloc)/1024, objects)
				if alloc > limit || (run.what == "session" && alloc > sessionLimit) {
					t.Errorf("%s allocated %d bytes, want < %d (session < %d)", run.what, alloc, limit, sessionLimit)
				}
			}
			if got := failureOf(r); got != tc.want {
				t.Errorf("failure %q, want %q", got, tc.want)
			}
		})
	}
}

// runProbe runs the probe of 127.0.0.1:port with module as f's handler
// does, without HTTP, and returns its one result.
func runProbe(t testing.TB, f *handlerFixture, module string, port int) *probe.Result {
	t.Helper()
	cfg := f.handler.opts.Config()
	target, err := probe.ParseTarget(loopbackTarget(port))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules[module]
	o, err := f.handler.opts.Prober.Run(t.Context(), probe.Request{
		Target: target, ModuleName: module, Module: m, Config: cfg, Budget: m.Timeout,
	})
	if err != nil || len(o.Results) != 1 {
		t.Fatalf("probe: %v", err)
	}
	return o.Results[0]
}

// failureOf returns "phase/reason" of a result's failure, or "" on success.
func failureOf(r *probe.Result) string {
	if r.Failure == nil {
		return ""
	}
	return r.Failure.Phase.String() + "/" + r.Failure.Reason
}

// allocations returns the bytes and objects the process allocated while f ran.
func allocations(f func()) (bytes, objects uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
}
