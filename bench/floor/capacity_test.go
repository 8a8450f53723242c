package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestBenchDNS: the capacity lab's DNS server gives every bench.test name
// 127.0.0.1, a domain d<N> the MX mx<N>, and refuses other zones.
func TestBenchDNS(t *testing.T) {
	srv, addr, err := startDNS()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	ask := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		in, err := dns.Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	if in := ask("h7.bench.test.", dns.TypeA); len(in.Answer) != 1 || in.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
		t.Errorf("A h7.bench.test = %v", in.Answer)
	}
	if in := ask("d7.bench.test.", dns.TypeMX); len(in.Answer) != 1 || in.Answer[0].(*dns.MX).Mx != "mx7.bench.test." {
		t.Errorf("MX d7.bench.test = %v", in.Answer)
	}
	if in := ask("h7.bench.test.", dns.TypeAAAA); in.Rcode != dns.RcodeSuccess || len(in.Answer) != 0 {
		t.Errorf("AAAA h7.bench.test = %v, want an empty answer", in)
	}
	if in := ask("example.com.", dns.TypeA); in.Rcode != dns.RcodeRefused {
		t.Errorf("A example.com: rcode %d, want REFUSED", in.Rcode)
	}
}

// TestMTASession: the lab's MTA plays a whole STARTTLS session whose
// certificate verifies for a bench.test name against the CA it wrote, and
// counts it.
func TestMTASession(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert, err := newBenchCert(caFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := startMTA(cert)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c, err := net.DialTimeout("tcp", m.ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	expect(t, r, c, "", "220 ")
	expect(t, r, c, "EHLO probe.bench.test", "250-STARTTLS")
	expect(t, r, c, "STARTTLS", "220 ")
	tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "mx3.bench.test"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tr := bufio.NewReader(tc)
	if reply := expect(t, tr, tc, "EHLO probe.bench.test", "250 8BITMIME"); strings.Contains(reply, "STARTTLS") {
		t.Errorf("STARTTLS offered again under TLS: %q", reply)
	}
	expect(t, tr, tc, "QUIT", "221 ")
	if got := m.sessions.Load(); got != 1 {
		t.Errorf("sessions = %d, want 1", got)
	}
}

// expect sends line (none when empty) and reads a whole reply, which must
// contain want.
func expect(t *testing.T, r *bufio.Reader, w net.Conn, line, want string) string {
	t.Helper()
	if line != "" {
		if _, err := w.Write([]byte(line + "\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	var reply strings.Builder
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", line, err)
		}
		reply.WriteString(l)
		if len(l) < 4 || l[3] != '-' {
			break
		}
	}
	if !strings.Contains(reply.String(), want) {
		t.Fatalf("after %q: reply %q lacks %q", line, reply.String(), want)
	}
	return reply.String()
}
