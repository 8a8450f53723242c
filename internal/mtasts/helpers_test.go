package mtasts_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

// newTestCA makes a CA valid from an hour ago for a day.
func newTestCA(t *testing.T) testCA {
	t.Helper()
	key := newKey(t)
	tmpl := certTemplate("smtp_exporter test CA", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	cert := signCert(t, tmpl, tmpl, &key.PublicKey, key)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a server certificate for name valid from notBefore to notAfter.
func (ca testCA) leaf(t *testing.T, name string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := certTemplate(name, notBefore, notAfter)
	tmpl.DNSNames = []string{name}
	cert := signCert(t, tmpl, ca.cert, &key.PublicKey, ca.key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// selfSigned makes a certificate for name signed by its own key.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := certTemplate(name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	tmpl.DNSNames = []string{name}
	cert := signCert(t, tmpl, tmpl, &key.PublicKey, key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func certTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore.Truncate(time.Second),
		NotAfter:     notAfter.Truncate(time.Second),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

func signCert(t *testing.T, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// policyServer is an HTTPS server standing in for a policy host, counting
// the connections it accepts.
type policyServer struct {
	srv   *httptest.Server
	conns atomic.Int64
}

// startPolicyServer serves handler over TLS with cert on listener (a new
// one on 127.0.0.1 when nil); it stops when the test ends.
func startPolicyServer(t *testing.T, cert tls.Certificate, listener net.Listener, handler http.Handler) *policyServer {
	t.Helper()
	ps := &policyServer{srv: httptest.NewUnstartedServer(handler)}
	if listener != nil {
		ps.srv.Listener.Close()
		ps.srv.Listener = listener
	}
	ps.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ps.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			ps.conns.Add(1)
		}
	}
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	return ps
}

// port is the port the server listens on.
func (ps *policyServer) port(t *testing.T) int {
	t.Helper()
	ap, err := netip.ParseAddrPort(ps.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}

// servePolicy answers every request with status, content type and body.
func servePolicy(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType == "" {
			w.Header()["Content-Type"] = nil // no sniffing: no header at all
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// newResolver returns a client of the test DNS server.
func newResolver(t *testing.T, dns *dnstest.Server) *dnsclient.Client {
	t.Helper()
	c, err := dnsclient.New(dnsclient.Options{Server: dns.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testContext returns a context that ends within d.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
