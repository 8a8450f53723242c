package handler

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"

	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// fleet is SMTP servers on several loopback addresses, all on one port,
// each greeting with its own name and counting its connections.
type fleet struct {
	port     int
	accepted map[string]*atomic.Int64 // by address
}

// newFleet starts a server on each address that has a name in names; the
// addresses must be 127.0.0.x. An address in greetDelay greets that late.
func newFleet(t testing.TB, names map[string]string, greetDelay map[string]time.Duration) *fleet {
	t.Helper()
	for range 20 {
		if f, ok := tryFleet(t, names, greetDelay); ok {
			return f
		}
	}
	t.Fatal("no port free on every address of the fleet")
	return nil
}

func tryFleet(t testing.TB, names map[string]string, greetDelay map[string]time.Duration) (*fleet, bool) {
	first := smtptest.Listen(t)
	f := &fleet{port: smtptest.PortOf(first.Addr()), accepted: map[string]*atomic.Int64{}}
	first.Close()
	var listeners []net.Listener
	for addr := range names {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(f.port)))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, false
		}
		listeners = append(listeners, ln)
	}
	for _, ln := range listeners {
		addr := ln.Addr().(*net.TCPAddr).IP.String()
		counter := &atomic.Int64{}
		f.accepted[addr] = counter
		name, delay := names[addr], greetDelay[addr]
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				counter.Add(1)
				go func() {
					defer conn.Close()
					c := smtptest.NewScriptConn(conn)
					time.Sleep(delay)
					c.Say("220 " + name + " ESMTP")
					if c.ExpectVerb("EHLO") {
						c.Say("250 " + name)
						c.ServeUntilQuit()
					}
				}()
			}
		}()
	}
	return f, true
}

// domainZone is the DNS of the mail domains the tests probe.
var domainZone = []string{
	"three.test. 60 IN MX 20 b.three.test.",
	"three.test. 60 IN MX 10 a.three.test.",
	"three.test. 60 IN MX 30 down.three.test.",
	"a.three.test. 60 IN A 127.0.0.1",
	"b.three.test. 60 IN A 127.0.0.2",
	"down.three.test. 60 IN A 127.0.0.3",
	"1.0.0.127.in-addr.arpa. 60 IN PTR a.three.test.",
	"2.0.0.127.in-addr.arpa. 60 IN PTR elsewhere.test.",
	"null.test. 60 IN MX 0 .",
	"implicit.test. 60 IN A 127.0.0.1",
	"all.test. 60 IN MX 10 h.all.test.",
	"h.all.test. 60 IN A 127.0.0.1",
	"h.all.test. 60 IN A 127.0.0.2",
	"odd.test. 60 IN MX 10 alias.odd.test.",
	"odd.test. 60 IN MX 20 127.0.0.9.",
	"odd.test. 60 IN MX 30 localhost.",
	"alias.odd.test. 60 IN CNAME a.three.test.",
	"out.test. 60 IN MX 10 a.three.test.",
	"out.test. 60 IN MX 20 b.three.test.",
}

// domainFixture is a handler whose modules probe the fleet's port through
// the test zone's DNS server.
func domainFixture(t *testing.T, module string, dnssec bool) (*handlerFixture, *fleet, *dnstest.Server) {
	t.Helper()
	f := newFleet(t, map[string]string{"127.0.0.1": "a.three.test", "127.0.0.2": "b.three.test"}, nil)
	srv := dnstest.NewServer(t, domainZone...)
	cfg := fmt.Sprintf("modules:\n  domain:\n    timeout: 3s\n    targets: mx\n    ports: [{port: %d, tls: starttls}]\n%s", f.port, smtptest.Indent(module, "    "))
	return newHandlerFixture(t, cfg, fixtureOptions{resolver: srv.Client(t, dnssec)}), f, srv
}

func TestDomainProbe(t *testing.T) {
	fx, f, _ := domainFixture(t, "reverse_dns: true\n", false)
	rec := fx.probe(t.Context(), probeQuery("three.test", "domain", false))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	s := parseExposition(t, rec.Body.String())
	port := strconv.Itoa(f.port)
	s.want(t, 0, "probe_success") // the backup MX is down: an admin must hear
	s.want(t, 1, "probe_smtp_deliverable")
	s.want(t, 1, "probe_smtp_mx_lookup_info", "result", "mx")
	s.want(t, 3, "probe_smtp_mx_records")
	for host, pref := range map[string]string{"a.three.test": "10", "b.three.test": "20", "down.three.test": "30"} {
		s.want(t, 1, "probe_smtp_mx_info", "host", host, "preference", pref)
	}
	s.want(t, 1, "probe_smtp_success", "host", "a.three.test", "port", port)
	s.want(t, 1, "probe_smtp_success", "host", "b.three.test", "port", port)
	s.want(t, 1, "probe_smtp_failure_info", "host", "down.three.test", "port", port, "phase", "connect", "reason", "refused")
	s.want(t, 1, "probe_smtp_host_addresses", "host", "a.three.test", "family", "4")
	s.want(t, 0, "probe_smtp_host_addresses", "host", "a.three.test", "family", "6")
	// Reverse DNS: 127.0.0.1 names a.three.test, which greets as itself;
	// 127.0.0.2's PTR names another host, which has no address.
	s.want(t, 1, "probe_smtp_fcrdns", "host", "a.three.test")
	s.want(t, 1, "probe_smtp_banner_hostname_match", "host", "a.three.test")
	s.want(t, 0, "probe_smtp_fcrdns", "host", "b.three.test")
	s.want(t, 1, "probe_smtp_banner_hostname_match", "host", "b.three.test")   // greets as the MX name
	s.absent(t, "probe_smtp_banner_hostname_match", "host", "down.three.test") // it never greeted
	if n := len(s.series("probe_ip_addr_hash")); n != 3 {
		t.Errorf("%d probe_ip_addr_hash series, want 3 (each dialled endpoint)", n)
	}
	s.absent(t, "probe_smtp_target_failure_info")
	s.absent(t, "probe_smtp_mx_dnssec_secure") // dnssec is off
	if f.accepted["127.0.0.1"].Load() != 1 || f.accepted["127.0.0.2"].Load() != 1 {
		t.Errorf("sessions: %d on .1, %d on .2; want one each", f.accepted["127.0.0.1"].Load(), f.accepted["127.0.0.2"].Load())
	}
}

func TestDomainTargetFailures(t *testing.T) {
	fx, _, srv := domainFixture(t, "", false)
	srv.Add(t, "broken.test. 60 IN MX 10 a.three.test.")
	srv.Set("broken.test.", dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	for domain, want := range map[string][2]string{
		"null.test":    {"mx", "null_mx"},
		"nx.test":      {"mx", "nxdomain"},
		"broken.test":  {"mx", "dns"},
		"nohost.test.": {"mx", "nxdomain"},
	} {
		t.Run(domain, func(t *testing.T) {
			s := parseExposition(t, fx.probe(t.Context(), probeQuery(domain, "domain", false)).Body.String())
			s.want(t, 1, "probe_smtp_target_failure_info", "phase", want[0], "reason", want[1])
			s.want(t, 0, "probe_success")
			s.want(t, 0, "probe_smtp_deliverable")
			s.absent(t, "probe_smtp_up")
		})
	}
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("null.test", "domain", false)).Body.String())
	s.want(t, 1, "probe_smtp_mx_lookup_info", "result", "null_mx")
}

func TestDomainImplicitAndProblems(t *testing.T) {
	fx, f, _ := domainFixture(t, "", false)
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("implicit.test", "domain", false)).Body.String())
	s.want(t, 1, "probe_smtp_mx_lookup_info", "result", "implicit")
	s.want(t, 1, "probe_smtp_success", "host", "implicit.test", "port", strconv.Itoa(f.port))
	s.want(t, 1, "probe_success")

	s = parseExposition(t, fx.probe(t.Context(), probeQuery("odd.test", "domain", false)).Body.String())
	for host, problem := range map[string]string{"alias.odd.test": "cname", "127.0.0.9": "ip_literal", "localhost": "localhost"} {
		s.want(t, 1, "probe_smtp_mx_problem_info", "host", host, "problem", problem)
	}
	s.want(t, 1, "probe_smtp_success", "host", "alias.odd.test") // a CNAME is followed, as senders do
	if n := len(s.series("probe_smtp_up")); n != 1 {
		t.Errorf("%d endpoints, want 1: an IP literal and localhost are never probed", n)
	}
}

func TestDomainEveryAddress(t *testing.T) {
	fx, f, _ := domainFixture(t, "addresses: all\n", false)
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("all.test", "domain", false)).Body.String())
	port := strconv.Itoa(f.port)
	s.want(t, 1, "probe_smtp_success", "host", "h.all.test", "port", port, "ip", "127.0.0.1")
	s.want(t, 1, "probe_smtp_success", "host", "h.all.test", "port", port, "ip", "127.0.0.2")
	s.want(t, 2, "probe_smtp_host_addresses", "host", "h.all.test", "family", "4")
	for _, m := range s.series("probe_smtp_duration_seconds") {
		if !hasLabel(m.GetLabel(), "ip") {
			t.Errorf("endpoint series without the ip label: %v", m)
		}
	}
	if f.accepted["127.0.0.1"].Load() != 1 || f.accepted["127.0.0.2"].Load() != 1 {
		t.Error("every address was not probed once")
	}
}

func TestDomainMXOutsideAllowedTargets(t *testing.T) {
	fx, f, _ := domainFixture(t, "allowed_targets: [127.0.0.1/32]\n", false)
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("out.test", "domain", false)).Body.String())
	s.want(t, 1, "probe_smtp_success", "host", "a.three.test")
	s.want(t, 1, "probe_smtp_failure_info", "host", "b.three.test", "phase", "resolve", "reason", "not_allowed")
	s.want(t, 1, "probe_smtp_deliverable")
	if n := f.accepted["127.0.0.2"].Load(); n != 0 {
		t.Errorf("%d connections to the MX outside allowed_targets, want none", n)
	}
}

func TestDomainDNSSEC(t *testing.T) {
	fx, _, srv := domainFixture(t, "dns: {dnssec: true}\n", true)
	srv.Set("three.test.", dnstest.Behaviour{Secure: true})
	srv.Set("a.three.test.", dnstest.Behaviour{Secure: true})
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("three.test", "domain", false)).Body.String())
	s.want(t, 1, "probe_smtp_mx_dnssec_secure")
	s.want(t, 1, "probe_smtp_host_dnssec_secure", "host", "a.three.test")
	s.want(t, 0, "probe_smtp_host_dnssec_secure", "host", "b.three.test")
}

func TestDomainModuleRefusesHostTargets(t *testing.T) {
	fx, _, _ := domainFixture(t, "", false)
	for _, target := range []string{"three.test:25", "127.0.0.1", "[::1]"} {
		rec := fx.probe(t.Context(), probeQuery(target, "domain", false))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", target, rec.Code)
		}
	}
}

func hasLabel(labels []*dto.LabelPair, name string) bool {
	for _, l := range labels {
		if l.GetName() == name {
			return true
		}
	}
	return false
}

// TestDomainSecureNXDOMAINHost: an MX host whose name does not exist, in a
// signed zone, is denied securely; the host's answer carried AD.
func TestDomainSecureNXDOMAINHost(t *testing.T) {
	fx, _, srv := domainFixture(t, "dns: {dnssec: true}\n", true)
	srv.Add(t, "nxhost.test. 60 IN MX 10 gone.nxhost.test.")
	srv.Set("nxhost.test.", dnstest.Behaviour{Secure: true})
	srv.Set("gone.nxhost.test.", dnstest.Behaviour{Secure: true, Rcode: dns.RcodeNameError})
	s := parseExposition(t, fx.probe(t.Context(), probeQuery("nxhost.test", "domain", false)).Body.String())
	s.want(t, 1, "probe_smtp_mx_problem_info", "host", "gone.nxhost.test", "problem", "no_address")
	s.want(t, 1, "probe_smtp_host_dnssec_secure", "host", "gone.nxhost.test")
}
