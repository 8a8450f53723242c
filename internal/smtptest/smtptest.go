// Package smtptest is test support for the SMTP probe's packages: a test
// CA issuing server certificates, go-smtp servers with AUTH, and scripted
// servers playing a dialogue line by line, all on 127.0.0.1:0.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// CA is a certificate authority made for one test.
type CA struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is Cert, PEM-encoded.
	PEM []byte
}

// NewCA makes a CA valid from an hour ago for a year.
func NewCA(t testing.TB) *CA {
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
	return &CA{Cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// WriteFile writes the CA certificate into a temporary directory of the
// test and returns its path.
func (ca *CA) WriteFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// CertSpec describes a server certificate to issue; zero fields take
// defaults: valid from an hour ago for 90 days, serial 4242.
type CertSpec struct {
	// Names are DNS names and IP addresses.
	Names     []string
	NotBefore time.Time
	NotAfter  time.Time
	Serial    int64
}

// Issue makes a server certificate signed by ca, or self-signed when ca is nil.
func (ca *CA) Issue(t testing.TB, spec CertSpec) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = time.Now().Add(-time.Hour)
	}
	if spec.NotAfter.IsZero() {
		spec.NotAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	if spec.Serial == 0 {
		spec.Serial = 4242
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(spec.Serial),
		Subject:      pkix.Name{CommonName: firstOr(spec.Names, "test")},
		NotBefore:    spec.NotBefore,
		NotAfter:     spec.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range spec.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.key
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

// ServerTLS returns a server tls.Config serving cert.
func ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// GoSMTPServer configures an in-process go-smtp server.
type GoSMTPServer struct {
	// TLS is offered with STARTTLS when set (and not Implicit).
	TLS *tls.Config
	// Implicit: TLS from the first byte.
	Implicit bool
	// User and Password are accepted with AUTH PLAIN and LOGIN when User is set.
	User     string
	Password string
	// Insecure allows AUTH without TLS.
	Insecure bool
}

// Start runs the server on 127.0.0.1:0 until the test ends; it returns the port.
func (g GoSMTPServer) Start(t testing.TB) int {
	t.Helper()
	return g.Serve(t, Listen(t))
}

// Serve runs the server on ln until the test ends; it returns the port.
func (g GoSMTPServer) Serve(t testing.TB, ln net.Listener) int {
	t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &authSession{user: g.User, password: g.Password}, nil
	}))
	s.Domain = "mx.test"
	s.AllowInsecureAuth = g.Insecure
	s.ErrorLog = discardLogger{}
	s.MaxMessageBytes = 10 << 20
	if g.Implicit {
		ln = tls.NewListener(ln, g.TLS)
	} else {
		s.TLSConfig = g.TLS
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return PortOf(ln.Addr())
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

// Listen listens on 127.0.0.1:0 until the test closes the listener.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// PortOf returns a TCP address's port.
func PortOf(a net.Addr) int { return a.(*net.TCPAddr).Port }

// Scripted runs handle for every connection to a raw listener on
// 127.0.0.1:0 until the test ends, and returns the port.
func Scripted(t testing.TB, handle func(c *ScriptConn)) int {
	t.Helper()
	ln := Listen(t)
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
				handle(NewScriptConn(conn))
			}()
		}
	}()
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	return PortOf(ln.Addr())
}

// ScriptConn is the server side of a scripted dialogue.
type ScriptConn struct {
	net.Conn
	r *bufio.Reader
}

// NewScriptConn plays the server side on conn, reading through a buffer.
func NewScriptConn(conn net.Conn) *ScriptConn {
	return &ScriptConn{Conn: conn, r: bufio.NewReader(conn)}
}

// Reader returns the buffered reader of what the client sends.
func (c *ScriptConn) Reader() *bufio.Reader { return c.r }

// Say writes lines, each ended with CRLF.
func (c *ScriptConn) Say(lines ...string) {
	for _, l := range lines {
		io.WriteString(c.Conn, l+"\r\n")
	}
}

// Hear reads one command line; "" when the client went away.
func (c *ScriptConn) Hear() string {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimRight(line, "\r\n")
}

// ExpectVerb reads a command and reports whether it starts with verb.
func (c *ScriptConn) ExpectVerb(verb string) bool {
	return strings.HasPrefix(strings.ToUpper(c.Hear()), verb)
}

// UpToStartTLS greets, answers EHLO offering STARTTLS and reads the
// STARTTLS command; the caller answers it.
func (c *ScriptConn) UpToStartTLS() {
	c.Say("220 mx.test ESMTP")
	c.ExpectVerb("EHLO")
	c.Say("250-mx.test", "250 STARTTLS")
	c.ExpectVerb("STARTTLS")
}

// HeloOnlyServer refuses EHLO with refusal (a 500 or 502 reply) and
// accepts HELO, as old servers do; it returns the port.
func HeloOnlyServer(t testing.TB, refusal string) int {
	return Scripted(t, func(c *ScriptConn) {
		c.Say("220 old.test SMTP")
		if !c.ExpectVerb("EHLO") {
			return
		}
		c.Say(refusal)
		if !c.ExpectVerb("HELO") {
			return
		}
		c.Say("250 old.test")
		c.ServeUntilQuit()
	})
}

// ServeUntilQuit answers 250 to everything and 221 to QUIT.
func (c *ScriptConn) ServeUntilQuit() {
	for {
		line := c.Hear()
		switch {
		case line == "":
			return
		case strings.EqualFold(line, "QUIT"):
			c.Say("221 2.0.0 bye")
			return
		default:
			c.Say("250 ok")
		}
	}
}

// ModuleFrom parses one module, named "test", from YAML text.
func ModuleFrom(t testing.TB, text string) *config.Module {
	t.Helper()
	cfg, err := config.Parse([]byte("modules:\n  test:\n"+Indent(text, "    ")), t.TempDir())
	if err != nil {
		t.Fatalf("module config: %v", err)
	}
	return cfg.Modules["test"]
}

// Indent puts prefix before every line of text.
func Indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// PortModule is the module line for one port of a test server: its mode
// and extra keys (", expect: {…}").
func PortModule(port int, mode string, extra string) string {
	return fmt.Sprintf("ports:\n  - {port: %d, tls: %s%s}\n", port, mode, extra)
}

// ClosedPort returns a port on which nothing listens.
func ClosedPort(t testing.TB) int {
	ln := Listen(t)
	port := PortOf(ln.Addr())
	ln.Close()
	return port
}

// RSACert makes a self-signed RSA certificate for 127.0.0.1, which RSA key
// exchange needs.
func RSACert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Abort closes the server side with a TCP RST rather than a FIN.
func (c *ScriptConn) Abort() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// WaitGone blocks until the client closes the connection or d passes.
func (c *ScriptConn) WaitGone(d time.Duration) {
	c.SetReadDeadline(time.Now().Add(d))
	io.Copy(io.Discard, c.r)
}

// PostfixEHLO is Postfix 3.7's EHLO reply under TLS, as the wire carries it.
const PostfixEHLO = "250-localhost\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n" +
	"250-ETRN\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n" +
	"250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"

// TLSServers are a STARTTLS, an implicit-TLS and a STARTTLS-required
// go-smtp server with a certificate for 127.0.0.1 from a fresh CA: the
// benchmarks' targets. Like Postfix with OpenSSL 3.0 they agree on X25519
// (Go's client still computes its ML-KEM key share).
type TLSServers struct {
	// The servers' ports.
	StartTLS, Implicit, Required int
	// CAFile is the CA certificate's path.
	CAFile string
}

// StartTLSServers starts the servers until the test ends.
func StartTLSServers(t testing.TB) TLSServers {
	t.Helper()
	ca := NewCA(t)
	cfg := ServerTLS(ca.Issue(t, CertSpec{Names: []string{"127.0.0.1", "mx.test"}}))
	cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	return TLSServers{
		StartTLS: GoSMTPServer{TLS: cfg}.Start(t),
		Implicit: GoSMTPServer{TLS: cfg, Implicit: true}.Start(t),
		Required: GoSMTPServer{TLS: cfg}.Start(t),
		CAFile:   ca.WriteFile(t),
	}
}

// Config is a configuration with module "one" (STARTTLS on the first
// port) and module "three" (all three ports), verifying certificates
// against the servers' CA.
func (s TLSServers) Config(t testing.TB) *config.Config {
	t.Helper()
	text := fmt.Sprintf(`modules:
  one:
    timeout: 5s
    ehlo_hostname: prober.example.net
    ports:
      - {port: %[1]d, tls: starttls}
    tls_config: {ca_file: %[4]s}
    expect: {verify_certificate: true}
  three:
    timeout: 5s
    ehlo_hostname: prober.example.net
    ports:
      - {port: %[1]d, tls: starttls}
      - {port: %[2]d, tls: implicit}
      - {port: %[3]d, tls: starttls, expect: {require_tls: true}}
    tls_config: {ca_file: %[4]s}
    expect: {verify_certificate: true}
`, s.StartTLS, s.Implicit, s.Required, s.CAFile)
	cfg, err := config.Parse([]byte(text), t.TempDir())
	if err != nil {
		t.Fatalf("bench config: %v", err)
	}
	return cfg
}
