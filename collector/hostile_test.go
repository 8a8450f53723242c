package collector

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// answerSlack is what SPEC allows past the budget: the answer arrives within
// the budget + 250 ms, whatever the servers do.
const answerSlack = 250 * time.Millisecond

// hugeLineBytes is the length of the reply line the hostile server streams.
const hugeLineBytes = 50 << 20

// rst closes the server side with a TCP RST rather than a FIN.
func rst(c *scriptConn) {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// waitGone blocks until the client closes the connection or d passes.
func waitGone(c *scriptConn, d time.Duration) {
	c.SetReadDeadline(time.Now().Add(d))
	io.Copy(io.Discard, c.r)
}

// ehloServer greets, reads EHLO and leaves the rest to answer.
func ehloServer(answer func(c *scriptConn)) func(t testing.TB) int {
	return func(t testing.TB) int {
		return scripted(t, func(c *scriptConn) {
			c.say("220 hostile.test ESMTP")
			if c.expectVerb("EHLO") {
				answer(c)
			}
		})
	}
}

// starttlsServer advertises STARTTLS, reads the command and leaves the rest
// to answer.
func starttlsServer(answer func(c *scriptConn)) func(t testing.TB) int {
	return ehloServer(func(c *scriptConn) {
		c.say("250-hostile.test", "250 STARTTLS")
		if c.expectVerb("STARTTLS") {
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
	return scripted(t, func(c *scriptConn) {
		n, err := io.WriteString(c, "220 ")
		sent := int64(n)
		for err == nil && sent < s.size {
			n, err = c.Write(chunk[:min(int64(len(chunk)), s.size-sent)])
			sent += int64(n)
		}
		if err == nil {
			c.say("")
			waitGone(c, 5*time.Second)
		}
		select {
		case s.sent <- sent:
		default:
		}
	})
}

// endless answers a command (or greets, with code 220) with a multi-line
// reply that never ends: "CODE-x" lines as fast as the network takes them.
func endless(c *scriptConn, code string) {
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
func garbage(c *scriptConn) {
	c.Write(garbageBytes)
	waitGone(c, 5*time.Second)
}

// oneByteASecond sends a perfectly good greeting, one byte a second.
func oneByteASecond(c *scriptConn) {
	for _, b := range []byte("220 slow.test ESMTP\r\n") {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.r.ReadByte(); err == nil || !isTimeout(err) {
			return // the client spoke out of turn or went away
		}
	}
	waitGone(c, 5*time.Second)
}

// madeUpEHLO is an EHLO reply with n invented keywords, each IANA keyword,
// and invented ones again.
func madeUpEHLO(n int) []string {
	lines := []string{"250-hostile.test"}
	for i := range n / 2 {
		lines = append(lines, fmt.Sprintf("250-X-MADE-UP-%04d some params", i))
	}
	for k := range ianaExtensions {
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
	check         func(t *testing.T, s exposition, ep []string)
}

func hostileCases(t *testing.T) []hostileCase {
	ca := newTestCA(t)
	withCA := "tls_config: {ca_file: " + ca.writeFile(t) + "}\n"
	good := ca.issue(t, certSpec{names: []string{"127.0.0.1"}})
	expired := ca.issue(t, certSpec{names: []string{"127.0.0.1"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	wrongName := ca.issue(t, certSpec{names: []string{"other.test"}})
	selfSigned := (*testCA)(nil).issue(t, certSpec{names: []string{"127.0.0.1"}})
	rsa := rsaCert(t)
	huge := newStreamer(hugeLineBytes)

	return []hostileCase{
		{
			name:   "accepts and never greets",
			server: func(t testing.TB) int { return scripted(t, func(c *scriptConn) { c.hear() }) },
			mode:   "starttls", timeout: "10s", header: "1.5", budget: time.Second,
			phase: "banner", reason: "timeout",
		},
		{
			name:   "greets one byte a second",
			server: func(t testing.TB) int { return scripted(t, oneByteASecond) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "timeout",
		},
		{
			name:   "greeting line of 50 MB",
			server: huge.server,
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "protocol",
			check: func(t *testing.T, _ exposition, _ []string) {
				select {
				case sent := <-huge.sent:
					t.Logf("the server got %d of %d bytes into the network before the prober hung up", sent, int64(hugeLineBytes))
					if sent >= hugeLineBytes {
						t.Errorf("the server sent all %d bytes: the prober read the whole line instead of stopping at %d", sent, maxLineBytes)
					}
				case <-time.After(3 * time.Second):
					t.Error("the streaming server still writes 3 s after the answer: the prober keeps reading")
				}
			},
		},
		{
			name:   "endless multi-line greeting",
			server: func(t testing.TB) int { return scripted(t, func(c *scriptConn) { endless(c, "220") }) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "protocol",
		},
		{
			name:   "endless multi-line EHLO reply",
			server: ehloServer(func(c *scriptConn) { endless(c, "250") }),
			mode:   "starttls", timeout: "1s", budget: time.Second,
			wantUp: 0, phase: "ehlo", reason: "protocol",
		},
		{
			name: "EHLO reply over 64 KiB in few lines",
			server: ehloServer(func(c *scriptConn) {
				line := "250-" + strings.Repeat("A", 4000)
				for range 20 {
					c.say(line)
				}
				c.say("250 END")
				waitGone(c, 5*time.Second)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "ehlo", reason: "protocol",
		},
		{
			name:   "binary garbage",
			server: func(t testing.TB) int { return scripted(t, garbage) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "protocol",
		},
		{
			name: "bytes injected with the 220 to STARTTLS",
			server: starttlsServer(func(c *scriptConn) {
				c.Write([]byte("220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n"))
				c.hear()
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
				return scripted(t, func(c *scriptConn) { time.Sleep(100 * time.Millisecond); rst(c) })
			},
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "reset",
		},
		{
			name:   "closed before the greeting",
			server: func(t testing.TB) int { return scripted(t, func(c *scriptConn) { c.Close() }) },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "reset",
		},
		{
			name: "closed inside the greeting line",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) { io.WriteString(c, "220 half a gree") })
			},
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "banner", reason: "reset",
		},
		{
			// The server hangs up right after its EHLO reply; the prober's
			// STARTTLS meets a closed (then reset) connection.
			name: "closed after the EHLO reply",
			server: ehloServer(func(c *scriptConn) {
				c.say("250-hostile.test", "250 STARTTLS")
				c.Close()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "reset",
		},
		{
			// On a none port the only command left is QUIT, and a missing
			// 221 never fails an endpoint.
			name: "closed after the EHLO reply, none port",
			server: ehloServer(func(c *scriptConn) {
				c.say("250-hostile.test", "250 STARTTLS")
				c.Close()
			}),
			mode: "none", timeout: "1s", budget: time.Second,
			wantUp: 1, wantStatus: 250,
		},
		{
			name:   "reset on STARTTLS",
			server: starttlsServer(rst),
			mode:   "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "reset",
		},
		{
			name: "reset mid-handshake",
			server: starttlsServer(func(c *scriptConn) {
				c.say("220 go ahead")
				c.r.Read(make([]byte, 512)) // the ClientHello
				rst(c)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "reset",
		},
		{
			name: "closed mid-handshake",
			server: starttlsServer(func(c *scriptConn) {
				c.say("220 go ahead")
				c.r.Read(make([]byte, 512))
				c.Close()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "reset",
		},
		{
			name: "reset mid-handshake, implicit TLS",
			server: func(t testing.TB) int {
				return scripted(t, func(c *scriptConn) { c.r.Read(make([]byte, 512)); rst(c) })
			},
			mode: "implicit", timeout: "1s", budget: time.Second,
			phase: "tls", reason: "reset",
		},
		{
			name: "handshake never answered",
			server: starttlsServer(func(c *scriptConn) {
				c.say("220 go ahead")
				waitGone(c, 5*time.Second)
			}),
			mode: "starttls", timeout: "10s", header: "1.5", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "timeout",
		},
		{
			name: "STARTTLS advertised but refused",
			server: starttlsServer(func(c *scriptConn) {
				c.say("454 4.7.0 TLS not available due to temporary reason")
				c.serveUntilQuit()
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "starttls", reason: "reply_code", wantStatus: 454,
		},
		{
			name: "TLS handshake answered with junk",
			server: starttlsServer(func(c *scriptConn) {
				c.say("220 go ahead")
				c.r.Read(make([]byte, 512))
				c.Write([]byte("this is not TLS at all\r\n"))
				waitGone(c, 5*time.Second)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, phase: "tls", reason: "tls_handshake",
		},
		{
			name: "TLS 1.0 only",
			server: goSMTPServer{tls: &tls.Config{Certificates: []tls.Certificate{rsa},
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}}.start,
			mode: "starttls", timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, wantStatus: 250,
			cert: &certWant{verified: 0, hostnameMatch: 1},
			check: func(t *testing.T, s exposition, ep []string) {
				s.want(t, 1, "probe_tls_version_info", append(ep, "version", "TLS 1.0")...)
			},
		},
		{
			name: "RSA key exchange only",
			server: goSMTPServer{tls: &tls.Config{Certificates: []tls.Certificate{rsa}, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}}}.start,
			mode: "starttls", timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, wantStatus: 250,
			cert: &certWant{verified: 0, hostnameMatch: 1},
			check: func(t *testing.T, s exposition, ep []string) {
				s.want(t, 1, "probe_tls_version_info", append(ep, "version", "TLS 1.2")...)
				s.want(t, 1, "probe_tls_cipher_info", append(ep, "cipher", "TLS_RSA_WITH_AES_128_CBC_SHA")...)
			},
		},
		{
			name:   "expired certificate",
			server: goSMTPServer{tls: serverTLS(expired), implicit: true}.start,
			mode:   "implicit", module: withCA, timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, phase: "tls", reason: "cert_expired",
			cert: &certWant{verified: 0, hostnameMatch: 1, expired: true},
		},
		{
			name:   "self-signed certificate",
			server: goSMTPServer{tls: serverTLS(selfSigned), implicit: true}.start,
			mode:   "implicit", timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, phase: "tls", reason: "cert_unverified",
			cert: &certWant{verified: 0, hostnameMatch: 1},
		},
		{
			name:   "certificate for another name",
			server: goSMTPServer{tls: serverTLS(wrongName), implicit: true}.start,
			mode:   "implicit", module: withCA, timeout: "3s", budget: 3 * time.Second,
			wantUp: 1, phase: "tls", reason: "cert_hostname",
			cert: &certWant{verified: 1, hostnameMatch: 0},
		},
		{
			name: "handshake fails after the Certificate message",
			server: func(t testing.TB) int {
				cfg := serverTLS(good)
				cfg.MaxVersion = tls.VersionTLS12
				cfg.ClientAuth = tls.RequireAnyClientCert
				return goSMTPServer{tls: cfg, implicit: true}.start(t)
			},
			mode: "implicit", module: withCA, timeout: "3s", budget: 3 * time.Second,
			phase: "tls", reason: "tls_handshake",
			cert: &certWant{verified: 1, hostnameMatch: 1},
			check: func(t *testing.T, s exposition, _ []string) {
				s.absent(t, "probe_tls_version_info")
			},
		},
		{
			name: "EHLO reply of 1,500 lines",
			server: ehloServer(func(c *scriptConn) {
				c.say(manyLines(1500)...)
				waitGone(c, 5*time.Second)
			}),
			mode: "starttls", timeout: "1s", budget: time.Second,
			phase: "ehlo", reason: "protocol",
		},
		{
			name: "EHLO reply with 900 made-up keywords",
			server: ehloServer(func(c *scriptConn) {
				c.say(madeUpEHLO(900)...)
				c.serveUntilQuit()
			}),
			mode: "none", timeout: "1s", budget: time.Second,
			wantUp: 1, wantStatus: 250,
			check: func(t *testing.T, s exposition, ep []string) {
				var got, want []string
				for _, m := range s.series("probe_smtp_extension_info", ep...) {
					for _, lp := range m.GetLabel() {
						if lp.GetName() == "extension" {
							got = append(got, lp.GetValue())
						}
					}
				}
				for k := range ianaExtensions {
					want = append(want, k)
				}
				sort.Strings(got)
				sort.Strings(want)
				if len(got) > maxExtensionSeries || strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%d extension series %q, want at most %d, exactly the IANA keywords %q", len(got), got, maxExtensionSeries, want)
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
			server: func(t testing.TB) int { return heloOnlyServer(t, "500 5.5.1 command unrecognized") },
			mode:   "starttls", timeout: "1s", budget: time.Second,
			wantUp: 1, wantStatus: 250,
			check: func(t *testing.T, s exposition, ep []string) {
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
			body := "timeout: " + tc.timeout + "\n" + tc.module + portModule(port, tc.mode, "")
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

func checkHostile(t *testing.T, s exposition, ep []string, tc hostileCase) {
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
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &authSession{}, nil }))
	s.Domain = "mx6.test"
	s.ErrorLog = discardLogger{}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	port := portOf(ln.Addr())

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
		t.Logf("exposition:\n%s", rec.Body)
	}
}

// ehloPayload greets, reads EHLO, and answers with payload, built before
// any probe so that the server's own allocations stay out of the count.
func ehloPayload(lines []string) func(t testing.TB) int {
	payload := []byte(strings.Join(lines, "\r\n") + "\r\n")
	return ehloServer(func(c *scriptConn) {
		c.Write(payload)
		c.serveUntilQuit()
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
	const limit, sessionLimit = 4 << 20, 4 * maxReplyBytes
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
		{"endless multi-line EHLO reply", ehloServer(func(c *scriptConn) { endless(c, "250") }), "ehlo/protocol"},
		{"EHLO reply over 64 KiB", ehloPayload(fat), "ehlo/protocol"},
		{"EHLO reply of 1,500 lines", ehloPayload(manyLines(1500)), "ehlo/protocol"},
		{"binary garbage", func(t testing.TB) int { return scripted(t, garbage) }, "banner/protocol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.server(t)
			body := "timeout: 2s\n" + portModule(port, "none", "")
			m := moduleFrom(t, body)
			f := newHandlerFixture(t, modulesYAML(map[string]string{"default": body}), fixtureOptions{})
			query := probeQuery(loopbackTarget(port), "", false)
			var r *Result
			session := func() { r = probePort(t, m, port, 2*time.Second) }
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

// allocations returns the bytes and objects the process allocated while f ran.
func allocations(f func()) (bytes, objects uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
}

// TestReplyReaderStaysBounded checks the cap that bounds memory directly:
// readReply never buffers more than maxLineBytes of one line, nor keeps
// more than maxReplyBytes of one reply.
func TestReplyReaderStaysBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input io.Reader
	}{
		{"endless line", io.MultiReader(strings.NewReader("250 "), neverEnding('x'))},
		{"endless reply", &repeatReader{line: []byte("250-x\r\n")}},
		{"fat lines", &repeatReader{line: []byte("250-" + strings.Repeat("y", maxLineBytes-8) + "\r\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counted := &countingReader{r: tc.input}
			r := bufio.NewReaderSize(counted, maxLineBytes)
			reply, err := readReply(r)
			if _, ok := err.(*ProtocolError); !ok {
				t.Fatalf("err = %v, want a protocol error", err)
			}
			text := 0
			for _, l := range reply.Lines {
				text += len(l)
			}
			if counted.n > maxReplyBytes+maxLineBytes || text > maxReplyBytes || len(reply.Lines) > maxReplyLines {
				t.Errorf("read %d bytes, kept %d bytes in %d lines: over the caps", counted.n, text, len(reply.Lines))
			}
		})
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
