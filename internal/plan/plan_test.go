package plan_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
)

// labZone is a set of mail domains, each with one thing to find.
var labZone = []string{
	// Three MX hosts, two at the same preference given in reverse order.
	"three.test. 300 IN MX 20 mx3.three.test.",
	"three.test. 300 IN MX 10 mxb.three.test.",
	"three.test. 300 IN MX 10 mxa.three.test.",
	"mxa.three.test. 300 IN A 192.0.2.1",
	"mxb.three.test. 300 IN A 192.0.2.2",
	"mxb.three.test. 300 IN AAAA 2001:db8::2",
	"mx3.three.test. 300 IN A 192.0.2.3",
	// No MX: the domain's own address.
	"implicit.test. 300 IN A 192.0.2.10",
	"noaddr-implicit.test. 300 IN TXT \"v=spf1 -all\"",
	// Null MX, alone and mixed.
	"null.test. 300 IN MX 0 .",
	"mixed.test. 300 IN MX 0 .",
	"mixed.test. 300 IN MX 10 mx.mixed.test.",
	"mx.mixed.test. 300 IN A 192.0.2.20",
	// MX names that are an alias, an address, localhost, address-less.
	"odd.test. 300 IN MX 10 alias.odd.test.",
	"odd.test. 300 IN MX 20 192.0.2.99.",
	"odd.test. 300 IN MX 30 localhost.",
	"odd.test. 300 IN MX 40 nothing.odd.test.",
	"odd.test. 300 IN MX 50 absent.odd.test.",
	"alias.odd.test. 300 IN CNAME real.odd.test.",
	"real.odd.test. 300 IN A 192.0.2.30",
	"nothing.odd.test. 300 IN TXT \"no address\"",
	// Every address.
	"all.test. 300 IN MX 10 mx.all.test.",
	"mx.all.test. 300 IN A 192.0.2.41",
	"mx.all.test. 300 IN A 192.0.2.40",
	"mx.all.test. 300 IN AAAA 2001:db8::40",
	// An MX host outside the allowlist.
	"partly.test. 300 IN MX 10 in.partly.test.",
	"partly.test. 300 IN MX 20 out.partly.test.",
	"in.partly.test. 300 IN A 192.0.2.50",
	"out.partly.test. 300 IN A 10.0.0.50",
	"out.partly.test. 300 IN A 192.0.2.51",
}

func newResolver(t *testing.T, srv *dnstest.Server, dnssec bool) *dnsclient.Client {
	t.Helper()
	c, err := dnsclient.New(dnsclient.Options{Server: srv.Addr(), DNSSEC: dnssec})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ports(numbers ...int) []plan.Port {
	var out []plan.Port
	for _, n := range numbers {
		out = append(out, plan.Port{Port: n, Settings: config.Settings{TLS: config.TLSStartTLS}})
	}
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// endpoints renders a plan's endpoints as "host:port addrs [ip] err".
func endpoints(p *plan.Plan) []string {
	var out []string
	for _, ep := range p.Endpoints {
		s := fmt.Sprintf("%s:%d %v", ep.Host, ep.Port, ep.Addrs)
		if ep.IP.IsValid() {
			s += " ip=" + ep.IP.String()
		}
		var re *plan.ResolveError
		if errors.As(ep.ResolveErr, &re) {
			s += " " + re.Reason
		}
		out = append(out, s)
	}
	return out
}

func TestForDomain(t *testing.T) {
	srv := dnstest.NewServer(t, labZone...)
	r := newResolver(t, srv, false)
	inDocumentation := func(_ string, a netip.Addr) bool { return netip.MustParsePrefix("192.0.2.0/24").Contains(a) }
	tests := []struct {
		domain    string
		opts      plan.Options
		lookup    string
		records   int
		hosts     []plan.MXHost
		problems  []plan.Problem
		endpoints []string
		skipped   int
	}{
		{
			domain: "three.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25)},
			lookup: plan.LookupMX, records: 3,
			hosts:     []plan.MXHost{{Name: "mxa.three.test", Preference: 10}, {Name: "mxb.three.test", Preference: 10}, {Name: "mx3.three.test", Preference: 20}},
			endpoints: []string{"mxa.three.test:25 [192.0.2.1]", "mxb.three.test:25 [2001:db8::2 192.0.2.2]", "mx3.three.test:25 [192.0.2.3]"},
		},
		{
			domain: "three.test", opts: plan.Options{MaxHosts: 2, Ports: ports(25, 587), IPProtocol: config.IPProtocol4},
			lookup: plan.LookupMX, records: 3,
			hosts:     []plan.MXHost{{Name: "mxa.three.test", Preference: 10}, {Name: "mxb.three.test", Preference: 10}},
			problems:  []plan.Problem{{Host: "mx3.three.test", Problem: plan.ProblemOverMaxHosts}},
			endpoints: []string{"mxa.three.test:25 [192.0.2.1]", "mxa.three.test:587 [192.0.2.1]", "mxb.three.test:25 [192.0.2.2]", "mxb.three.test:587 [192.0.2.2]"},
		},
		{
			domain: "implicit.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25)},
			lookup: plan.LookupImplicit, hosts: nil,
			endpoints: []string{"implicit.test:25 [192.0.2.10]"},
		},
		{
			domain: "mixed.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25)},
			lookup: plan.LookupMX, records: 2,
			hosts:     []plan.MXHost{{Name: "mx.mixed.test", Preference: 10}},
			problems:  []plan.Problem{{Host: ".", Problem: plan.ProblemNullMXMixed}},
			endpoints: []string{"mx.mixed.test:25 [192.0.2.20]"},
		},
		{
			domain: "odd.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25)},
			lookup: plan.LookupMX, records: 5,
			hosts: []plan.MXHost{{Name: "alias.odd.test", Preference: 10}, {Name: "nothing.odd.test", Preference: 40}, {Name: "absent.odd.test", Preference: 50}},
			problems: []plan.Problem{
				{Host: "192.0.2.99", Problem: plan.ProblemIPLiteral}, {Host: "localhost", Problem: plan.ProblemLocalhost},
				{Host: "alias.odd.test", Problem: plan.ProblemCNAME}, {Host: "nothing.odd.test", Problem: plan.ProblemNoAddress},
				{Host: "absent.odd.test", Problem: plan.ProblemNoAddress},
			},
			endpoints: []string{"alias.odd.test:25 [192.0.2.30]", "nothing.odd.test:25 [] dns", "absent.odd.test:25 [] dns"},
		},
		{
			domain: "all.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25), AllAddresses: true, MaxAddresses: 4},
			lookup: plan.LookupMX, records: 1, hosts: []plan.MXHost{{Name: "mx.all.test", Preference: 10}},
			endpoints: []string{"mx.all.test:25 [2001:db8::40] ip=2001:db8::40", "mx.all.test:25 [192.0.2.40] ip=192.0.2.40", "mx.all.test:25 [192.0.2.41] ip=192.0.2.41"},
		},
		{
			domain: "all.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25), AllAddresses: true, MaxAddresses: 1, IPProtocol: config.IPProtocol4},
			lookup: plan.LookupMX, records: 1, hosts: []plan.MXHost{{Name: "mx.all.test", Preference: 10}},
			endpoints: []string{"mx.all.test:25 [192.0.2.40] ip=192.0.2.40"},
		},
		{
			domain: "partly.test", opts: plan.Options{MaxHosts: 10, Ports: ports(25), Allowed: inDocumentation},
			lookup: plan.LookupMX, records: 2,
			hosts:     []plan.MXHost{{Name: "in.partly.test", Preference: 10}, {Name: "out.partly.test", Preference: 20}},
			endpoints: []string{"in.partly.test:25 [192.0.2.50]", "out.partly.test:25 [] not_allowed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			p := plan.ForDomain(ctx(t), r, tt.domain, tt.opts)
			if p.Failure != nil {
				t.Fatalf("target failure %+v", p.Failure)
			}
			d := p.Domain
			if d.Lookup != tt.lookup || d.Records != tt.records || !reflect.DeepEqual(d.Hosts, tt.hosts) {
				t.Errorf("lookup %q, %d records, hosts %+v; want %q, %d, %+v", d.Lookup, d.Records, d.Hosts, tt.lookup, tt.records, tt.hosts)
			}
			if !reflect.DeepEqual(d.Problems, tt.problems) {
				t.Errorf("problems %+v, want %+v", d.Problems, tt.problems)
			}
			if got := endpoints(p); !reflect.DeepEqual(got, tt.endpoints) {
				t.Errorf("endpoints\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.endpoints, "\n"))
			}
			if p.Skipped != tt.skipped {
				t.Errorf("skipped %d, want %d", p.Skipped, tt.skipped)
			}
		})
	}
}

func TestForDomainTargetFailures(t *testing.T) {
	srv := dnstest.NewServer(t, labZone...)
	srv.Add(t, "broken.test. 300 IN MX 10 mx.broken.test.", "slow.test. 300 IN MX 10 mx.slow.test.")
	srv.Set("broken.test.", dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	srv.Set("slow.test.", dnstest.Behaviour{Delay: 3 * time.Second})
	r := newResolver(t, srv, false)
	tests := []struct {
		domain, lookup, phase, reason string
	}{
		{"nowhere.test", plan.LookupMX, "mx", plan.ReasonNXDomain},
		{"broken.test", plan.LookupMX, "mx", plan.ReasonDNS},
		{"slow.test", plan.LookupMX, "mx", plan.ReasonTimeout},
		{"null.test", plan.LookupNullMX, "mx", plan.ReasonNullMX},
		{"noaddr-implicit.test", plan.LookupImplicit, "resolve", plan.ReasonDNS},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			c, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			p := plan.ForDomain(c, r, tt.domain, plan.Options{MaxHosts: 10, Ports: ports(25)})
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %s with a 500ms budget", took)
			}
			f := p.Failure
			if f == nil || f.Phase != tt.phase || f.Reason != tt.reason || p.Domain.Lookup != tt.lookup {
				t.Fatalf("failure %+v, lookup %q; want %s/%s, %q", f, p.Domain.Lookup, tt.phase, tt.reason, tt.lookup)
			}
			if len(p.Endpoints) != 0 {
				t.Errorf("endpoints %v on a failed target", endpoints(p))
			}
		})
	}
}

// TestEndpointCap: ports × hosts × addresses past 64 are counted, not
// probed.
func TestEndpointCap(t *testing.T) {
	var zone []string
	for i := range 10 {
		zone = append(zone, fmt.Sprintf("big.test. 300 IN MX %d mx%d.big.test.", i, i))
		for j := range 4 {
			zone = append(zone, fmt.Sprintf("mx%d.big.test. 300 IN A 192.0.2.%d", i, 10*i+j))
		}
	}
	srv := dnstest.NewServer(t, zone...)
	p := plan.ForDomain(ctx(t), newResolver(t, srv, false), "big.test", plan.Options{
		MaxHosts: 10, Ports: ports(25, 465, 587), AllAddresses: true, MaxAddresses: 4,
	})
	if len(p.Endpoints) != plan.MaxEndpoints || p.Skipped != 10*3*4-plan.MaxEndpoints {
		t.Errorf("%d endpoints, %d skipped; want %d and %d", len(p.Endpoints), p.Skipped, plan.MaxEndpoints, 120-plan.MaxEndpoints)
	}
}

func TestDNSSECSecure(t *testing.T) {
	srv := dnstest.NewServer(t, labZone...)
	srv.Set("three.test.", dnstest.Behaviour{Secure: true})
	srv.Set("mxa.three.test.", dnstest.Behaviour{Secure: true})
	for _, dnssec := range []bool{false, true} {
		p := plan.ForDomain(ctx(t), newResolver(t, srv, dnssec), "three.test", plan.Options{MaxHosts: 10, Ports: ports(25)})
		if p.Domain.Secure != dnssec {
			t.Errorf("dnssec %t: MX secure %t", dnssec, p.Domain.Secure)
		}
		secure := map[string]bool{}
		for _, h := range p.Hosts {
			secure[h.Name] = h.Secure
		}
		if want := map[string]bool{"mxa.three.test": dnssec, "mxb.three.test": false, "mx3.three.test": false}; !reflect.DeepEqual(secure, want) {
			t.Errorf("dnssec %t: host secure %v, want %v", dnssec, secure, want)
		}
	}
}

func TestForHost(t *testing.T) {
	var zone []string
	for i := range 70 {
		zone = append(zone, fmt.Sprintf("many.test. 300 IN A 192.0.2.%d", i+1))
	}
	srv := dnstest.NewServer(t, append(zone, labZone...)...)
	r := newResolver(t, srv, false)
	only := func(prefix string) func(string, netip.Addr) bool {
		return func(_ string, a netip.Addr) bool { return netip.MustParsePrefix(prefix).Contains(a) }
	}
	tests := []struct {
		host       string
		opts       plan.Options
		want       []string
		notAllowed string
	}{
		{"mxb.three.test", plan.Options{Ports: ports(25, 587)}, []string{"mxb.three.test:25 [2001:db8::2 192.0.2.2]", "mxb.three.test:587 [2001:db8::2 192.0.2.2]"}, ""},
		{"mxb.three.test", plan.Options{Ports: ports(25), IPProtocol: config.IPProtocol6}, []string{"mxb.three.test:25 [2001:db8::2]"}, ""},
		{"192.0.2.7", plan.Options{Ports: ports(25)}, []string{"192.0.2.7:25 [192.0.2.7]"}, ""},
		{"localhost", plan.Options{Ports: ports(25)}, []string{"localhost:25 [::1 127.0.0.1]"}, ""},
		{"absent.test", plan.Options{Ports: ports(25)}, []string{"absent.test:25 [] dns"}, ""},
		{"mxb.three.test", plan.Options{Ports: ports(25), Allowed: only("192.0.2.0/24")}, nil, "2001:db8::2"},
		{"out.partly.test", plan.Options{Ports: ports(25), Allowed: only("192.0.2.0/24")}, nil, "10.0.0.50"},
		{"many.test", plan.Options{Ports: ports(25), Allowed: only("192.0.2.0/24")}, nil, "too many"},
		{"many.test", plan.Options{Ports: ports(25)}, []string{"many.test:25 [192.0.2.1]"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			p, err := plan.ForHost(ctx(t), r, tt.host, tt.opts)
			var notAllowed *plan.NotAllowedError
			if tt.notAllowed != "" {
				if !errors.As(err, &notAllowed) || !strings.Contains(err.Error()+notAllowed.Addr.String(), strings.TrimPrefix(tt.notAllowed, "too many")) ||
					notAllowed.TooMany != (tt.notAllowed == "too many") {
					t.Fatalf("error %v, want not allowed (%s)", err, tt.notAllowed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := endpoints(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("endpoints %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOptionsFor(t *testing.T) {
	cfg, err := config.Parse([]byte(`modules:
  domains:
    targets: mx
    max_hosts: 3
    addresses: all
    max_addresses: 2
    ip_protocol: ip4
    ports: [{port: 25, tls: starttls}, {port: 465, tls: implicit}]
`), ".")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Modules["domains"]
	opts := plan.OptionsFor(m, 0, nil)
	if !opts.MX || opts.MaxHosts != 3 || !opts.AllAddresses || opts.MaxAddresses != 2 || opts.IPProtocol != config.IPProtocol4 {
		t.Errorf("options %+v", opts)
	}
	if len(opts.Ports) != 2 || opts.Ports[1].Port != 465 || opts.Ports[1].Settings.TLS != config.TLSImplicit {
		t.Errorf("ports %+v", opts.Ports)
	}
	one := plan.OptionsFor(m, 2525, nil)
	if len(one.Ports) != 1 || one.Ports[0].Port != 2525 || one.Ports[0].Settings.TLS != config.TLSStartTLS {
		t.Errorf("a target's own port: %+v", one.Ports)
	}
}

// TestProblemsOncePerName: a name given in several MX records is one host
// and one problem, whatever its preferences.
func TestProblemsOncePerName(t *testing.T) {
	srv := dnstest.NewServer(t,
		"dup.test. 60 IN MX 10 a.dup.test.", "dup.test. 60 IN MX 20 b.dup.test.", "dup.test. 60 IN MX 30 b.dup.test.",
		"dup.test. 60 IN MX 40 192.0.2.1.", "dup.test. 60 IN MX 50 192.0.2.1.", "dup.test. 60 IN MX 60 localhost.",
		"dup.test. 60 IN MX 70 localhost.", "a.dup.test. 60 IN A 192.0.2.10",
	)
	p := plan.ForDomain(ctx(t), newResolver(t, srv, false), "dup.test", plan.Options{MaxHosts: 1, Ports: ports(25)})
	want := []plan.Problem{{Host: "b.dup.test", Problem: plan.ProblemOverMaxHosts}, {Host: "192.0.2.1", Problem: plan.ProblemIPLiteral}, {Host: "localhost", Problem: plan.ProblemLocalhost}}
	if !reflect.DeepEqual(p.Domain.Problems, want) {
		t.Errorf("problems %+v, want %+v", p.Domain.Problems, want)
	}
}
