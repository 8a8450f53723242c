package handler

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// securityVariant is a module BenchmarkSecurityCost compares: the same
// mail-domain probe with DANE, MTA-STS and TLS-RPT on or off.
type securityVariant struct {
	name         string
	dane, mtaSTS bool // mtaSTS: mta_sts and tlsrpt
}

// keys are the variant's module keys.
func (v securityVariant) keys() string {
	var k strings.Builder
	if v.dane {
		k.WriteString("dane: true\n")
	}
	if v.mtaSTS {
		k.WriteString("mta_sts: true\ntlsrpt: true\n")
	}
	return k.String()
}

// securityVariants: off first (the base of the ratios), each family alone,
// all on.
var securityVariants = []securityVariant{
	{name: "off"}, {name: "dane", dane: true}, {name: "mta_sts", mtaSTS: true},
	{name: "all", dane: true, mtaSTS: true},
}

// processCPU is the CPU time (user and system) the test process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSecurityCost is one /probe request of a mail domain (one MX,
// port 25, STARTTLS) under each of securityVariants, interleaved: every
// iteration probes once with each module, in an order that rotates, so
// that whatever else loads the machine weighs on all of them alike. The
// lab is in-process (secureLab's DNS server answering with AD, a DANE-EE
// record that matches, go-smtp with STARTTLS, the MTA-STS policy over
// HTTPS), so the CPU reported is the process's: the exporter's side and
// the servers' together. It reports CPU and wall time per probe of each
// variant and the ratio of each to "off".
func BenchmarkSecurityCost(b *testing.B) {
	l := newSecureLab(b, nil)
	l.dns.Add(b, l.tlsa(3, l.leaf.Cert),
		"_mta-sts.lab.test. 60 IN TXT \"v=STSv1; id=20261202\"", "mta-sts.lab.test. 60 IN A 127.0.0.1")
	base := fmt.Sprintf("timeout: 5s\ntargets: mx\ndns: {dnssec: true}\ntls_config: {ca_file: %q}\nports: [{port: %d, tls: starttls}]\n",
		l.caFile, l.port)
	modules := map[string]string{}
	for _, v := range securityVariants {
		modules[v.name] = base + v.keys()
	}
	fx := newHandlerFixture(b, modulesYAML(modules), fixtureOptions{resolver: l.dns.Client(b, true)})
	fx.prober.MTASTSPort = policyServer(b, l.ca, "version: STSv1\nmode: enforce\nmx: mx.lab.test\nmax_age: 86400\n")

	n := len(securityVariants)
	cpu, wall := make([]time.Duration, n), make([]time.Duration, n)
	rounds := 0
	for b.Loop() {
		for k := range n {
			j := (rounds + k) % n
			c0, t0 := processCPU(b), time.Now()
			securityProbe(b, fx, securityVariants[j], l.port)
			wall[j] += time.Since(t0)
			cpu[j] += processCPU(b) - c0
		}
		rounds++
	}
	for j, v := range securityVariants {
		b.ReportMetric(float64(cpu[j].Microseconds())/float64(rounds), v.name+"-cpu-µs/probe")
		b.ReportMetric(float64(wall[j].Microseconds())/float64(rounds), v.name+"-wall-µs/probe")
		if j > 0 {
			b.ReportMetric(float64(cpu[j])/float64(cpu[0]), v.name+"/off-cpu")
		}
	}
}

// securityProbe probes lab.test with v's module on the lab's port; the
// probe must succeed and show each check of v passed.
func securityProbe(b *testing.B, fx *handlerFixture, v securityVariant, port int) {
	rec := fx.probe(b.Context(), probeQuery("lab.test", v.name, false))
	body := rec.Body.String()
	ok := rec.Code == http.StatusOK && strings.Contains(body, "probe_success 1\n")
	if v.dane {
		ok = ok && strings.Contains(body, fmt.Sprintf("probe_smtp_dane_verified{host=\"mx.lab.test\",port=\"%d\"} 1\n", port))
	}
	if v.mtaSTS {
		ok = ok && strings.Contains(body, "probe_smtp_mta_sts_info{result=\"ok\"} 1\n") &&
			strings.Contains(body, "probe_smtp_tlsrpt_info{result=\"ok\"} 1\n")
	}
	if !ok {
		b.Fatalf("module %s: HTTP %d\n%s", v.name, rec.Code, body)
	}
}
