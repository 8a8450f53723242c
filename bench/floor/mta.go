package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// benchDomain is the zone of every name the capacity bench probes: its
// DNS server answers them all with 127.0.0.1, its MTA's certificate
// names *.benchDomain.
const benchDomain = "bench.test"

// newBenchCert returns a self-signed ECDSA P-256 certificate for
// *.bench.test and writes it, as the CA the exporter trusts, to caFile.
func newBenchCert(caFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "*." + benchDomain},
		DNSNames:              []string{"*." + benchDomain},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// mta is a minimal mail server on loopback for the capacity bench: a
// greeting, EHLO offering STARTTLS, the TLS handshake, EHLO again, QUIT.
// It counts the sessions it accepted.
type mta struct {
	ln       net.Listener
	tls      *tls.Config
	sessions atomic.Int64
}

func startMTA(cert tls.Certificate) (*mta, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mta{ln: ln, tls: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go m.serve()
	return m, nil
}

func (m *mta) port() int { return m.ln.Addr().(*net.TCPAddr).Port }

func (m *mta) close() { m.ln.Close() }

func (m *mta) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.sessions.Add(1)
		go m.session(c)
	}
}

// session plays the server's side of one probe; any error ends it.
func (m *mta) session(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r, w := bufio.NewReader(c), c
	w.Write([]byte("220 mx.bench.test ESMTP capacity bench\r\n"))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
		case "EHLO", "HELO":
			ext := "250-STARTTLS\r\n"
			if _, ok := c.(*tls.Conn); ok {
				ext = ""
			}
			w.Write([]byte("250-mx.bench.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n" + ext + "250 8BITMIME\r\n"))
		case "STARTTLS":
			w.Write([]byte("220 2.0.0 ready\r\n"))
			tc := tls.Server(c, m.tls)
			if tc.Handshake() != nil {
				return
			}
			c, r, w = tc, bufio.NewReader(tc), tc
		case "QUIT":
			w.Write([]byte("221 2.0.0 bye\r\n"))
			return
		default:
			w.Write([]byte("502 5.5.2 not here\r\n"))
		}
	}
}
