package collector

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtp_exporter test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// writeFile writes the CA certificate into dir and returns its path.
func (ca *testCA) writeFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// certSpec describes a server certificate to issue.
type certSpec struct {
	names     []string // DNS names and IP addresses
	notBefore time.Time
	notAfter  time.Time
	serial    int64
}

// issue makes a server certificate signed by ca, or self-signed when ca is nil.
func (ca *testCA) issue(t testing.TB, spec certSpec) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	if spec.serial == 0 {
		spec.serial = 4242
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(spec.serial),
		Subject:      pkix.Name{CommonName: firstOr(spec.names, "test")},
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range spec.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// serverTLS returns a server tls.Config serving cert.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// goSMTPServer configures an in-process go-smtp server.
type goSMTPServer struct {
	tls      *tls.Config // STARTTLS offered when set (and not implicit)
	implicit bool        // TLS from the first byte
	user     string      // AUTH PLAIN/LOGIN accepted for user/password when set
	password string
	insecure bool // allow AUTH without TLS
}

// start runs the server on 127.0.0.1:0 until the test ends; it returns the port.
func (g goSMTPServer) start(t testing.TB) int {
	t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &authSession{user: g.user, password: g.password}, nil
	}))
	s.Domain = "mx.test"
	s.AllowInsecureAuth = g.insecure
	s.ErrorLog = discardLogger{}
	s.MaxMessageBytes = 10 << 20
	ln := listen(t)
	if g.implicit {
		ln = tls.NewListener(ln, g.tls)
	} else {
		s.TLSConfig = g.tls
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return portOf(ln.Addr())
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// authSession accepts PLAIN and LOGIN for one user.
type authSession struct {
	user, password string
}

func (s *authSession) AuthMechanisms() []string {
	if s.user == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *authSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, password string) error {
		if user != s.user || password != s.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed"}
		}
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, password string) error { return check(user, password) }), nil
}

// loginServer is the server side of SASL LOGIN, which go-sasl lacks.
type loginServer struct {
	check   func(user, password string) error
	user    string
	gotUser bool
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch {
	case response == nil && !l.gotUser && l.user == "":
		return []byte("Username:"), false, nil
	case !l.gotUser:
		l.user, l.gotUser = string(response), true
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}

func (*authSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*authSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*authSession) Data(io.Reader) error                 { return nil }
func (*authSession) Reset()                               {}
func (*authSession) Logout() error                        { return nil }

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func portOf(a net.Addr) int { return a.(*net.TCPAddr).Port }

// scripted runs handle for every connection to a raw listener on
// 127.0.0.1:0 until the test ends, and returns the port.
func scripted(t testing.TB, handle func(c *scriptConn)) int {
	t.Helper()
	ln := listen(t)
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				go func() { <-done; conn.Close() }()
				handle(&scriptConn{Conn: conn, r: bufio.NewReader(conn)})
			}()
		}
	}()
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	return portOf(ln.Addr())
}

// scriptConn is the server side of a scripted dialogue.
type scriptConn struct {
	net.Conn
	r *bufio.Reader
}

// say writes lines, each ended with CRLF.
func (c *scriptConn) say(lines ...string) {
	for _, l := range lines {
		io.WriteString(c.Conn, l+"\r\n")
	}
}

// hear reads one command line; "" when the client went away.
func (c *scriptConn) hear() string {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimRight(line, "\r\n")
}

// expectVerb reads a command and reports whether it starts with verb.
func (c *scriptConn) expectVerb(verb string) bool {
	return strings.HasPrefix(strings.ToUpper(c.hear()), verb)
}

// upToStartTLS greets, answers EHLO offering STARTTLS and reads the
// STARTTLS command; the caller answers it.
func (c *scriptConn) upToStartTLS() {
	c.say("220 mx.test ESMTP")
	c.expectVerb("EHLO")
	c.say("250-mx.test", "250 STARTTLS")
	c.expectVerb("STARTTLS")
}

// heloOnlyServer refuses EHLO with refusal (a 500 or 502 reply) and
// accepts HELO, as old servers do; it returns the port.
func heloOnlyServer(t testing.TB, refusal string) int {
	return scripted(t, func(c *scriptConn) {
		c.say("220 old.test SMTP")
		if !c.expectVerb("EHLO") {
			return
		}
		c.say(refusal)
		if !c.expectVerb("HELO") {
			return
		}
		c.say("250 old.test")
		c.serveUntilQuit()
	})
}

// serveUntilQuit answers 250 to everything and 221 to QUIT.
func (c *scriptConn) serveUntilQuit() {
	for {
		line := c.hear()
		switch {
		case line == "":
			return
		case strings.EqualFold(line, "QUIT"):
			c.say("221 2.0.0 bye")
			return
		default:
			c.say("250 ok")
		}
	}
}

// moduleFrom parses one module from YAML text.
func moduleFrom(t testing.TB, text string) *config.Module {
	t.Helper()
	cfg, err := config.Parse([]byte("modules:\n  test:\n"+indent(text, "    ")), t.TempDir())
	if err != nil {
		t.Fatalf("module config: %v", err)
	}
	return cfg.Modules["test"]
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// probePort runs one session against 127.0.0.1:port with module m and
// budget, as the handler would.
func probePort(t testing.TB, m *config.Module, port int, budget time.Duration) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	target, err := ParseTarget("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	p := &Prober{Resolver: net.DefaultResolver, Hostname: "prober.example.net"}
	results := p.Probe(ctx, m, p.Endpoints(ctx, target, m))
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	return results[0]
}

// failureOf returns "phase/reason" of a result's failure, or "" on success.
func failureOf(r *Result) string {
	if r.Failure == nil {
		return ""
	}
	return r.Failure.Phase.String() + "/" + r.Failure.Reason
}

func newReader(conn net.Conn) *bufio.Reader { return bufio.NewReader(conn) }

// staticResolver resolves names from a map, as DNS would.
type staticResolver map[string][]string

func (s staticResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range s[host] {
		addr := netip.MustParseAddr(a)
		if network == "ip" || (network == "ip4") == addr.Is4() {
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// probeTarget probes a target string with the given resolver; the target
// must name one port.
func probeTarget(t testing.TB, m *config.Module, target string, res Resolver) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	defer cancel()
	tg, err := ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Prober{Resolver: res}
	results := p.Probe(ctx, m, p.Endpoints(ctx, tg, m))
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	return results[0]
}
