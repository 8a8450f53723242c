package dnsclient_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

// cnameZone holds aliases of every shape: chains answered whole, chains
// the client must continue, dangling ones, loops and one too long.
func cnameZone() []string {
	zone := []string{
		// Followed by the server within one answer.
		"alias.test. 300 IN CNAME mid.test.",
		"mid.test. 300 IN CNAME Real.Test.",
		"real.test. 300 IN MX 10 mx.real.test.",
		// Answered with the CNAME alone: the client asks for the target.
		"outside.test. 300 IN CNAME other.zone.",
		"other.zone. 300 IN MX 5 mx.other.zone.",
		// The chain ends at a name that does not exist.
		"dangling.test. 300 IN CNAME gone.test.",
		// The chain ends at a name without MX records.
		"nodata.test. 300 IN CNAME host.test.",
		"host.test. 300 IN A 192.0.2.1",
		// Loops, within one answer and across queries.
		"loop-a.test. 300 IN CNAME loop-b.test.",
		"loop-b.test. 300 IN CNAME loop-a.test.",
		"hop-a.test. 300 IN CNAME hop-b.test.",
		"hop-b.test. 300 IN CNAME hop-a.test.",
	}
	for i := range 9 { // long0 → long1 → … → long9: nine hops
		zone = append(zone, fmt.Sprintf("long%d.test. 300 IN CNAME long%d.test.", i, i+1))
	}
	zone = append(zone, "long9.test. 300 IN MX 10 mx.long.test.")
	return zone
}

// longChain names long<from>.test … long<to>.test.
func longChain(from, to int) []string {
	var names []string
	for i := from; i <= to; i++ {
		names = append(names, fmt.Sprintf("long%d.test", i))
	}
	return names
}

func TestCNAMEChains(t *testing.T) {
	srv := dnstest.NewServer(t, cnameZone()...)
	srv.Set("outside.test", dnstest.Behaviour{CNAMEOnly: true})
	srv.Set("hop-a.test", dnstest.Behaviour{CNAMEOnly: true})
	srv.Set("hop-b.test", dnstest.Behaviour{CNAMEOnly: true})
	c := newClient(t, srv, false)
	for _, tc := range []struct {
		domain    string
		wantChain []string
		wantHost  string
		kind      dnsclient.Kind
		errName   string
	}{
		{"alias.test", []string{"mid.test", "real.test"}, "mx.real.test", 0, ""},
		{"outside.test", []string{"other.zone"}, "mx.other.zone", 0, ""},
		{"dangling.test", []string{"gone.test"}, "", dnsclient.NXDomain, "gone.test"},
		{"nodata.test", []string{"host.test"}, "", 0, ""},
		{"loop-a.test", nil, "", dnsclient.Malformed, "loop-a.test"},
		{"hop-a.test", nil, "", dnsclient.Malformed, "hop-b.test"},
		{"long0.test", nil, "", dnsclient.Malformed, "long0.test"},
		{"long1.test", longChain(2, 9), "mx.long.test", 0, ""}, // eight hops: the most followed
		{"real.test", nil, "mx.real.test", 0, ""},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			got, err := c.LookupMX(testContext(t), tc.domain)
			if e := wantKind(t, err, tc.kind); e != nil && e.Name != tc.errName {
				t.Errorf("Error.Name = %q, want %q", e.Name, tc.errName)
			}
			if tc.kind != 0 {
				return
			}
			if !slices.Equal(got.CNAMEs, tc.wantChain) {
				t.Errorf("CNAMEs = %q, want %q", got.CNAMEs, tc.wantChain)
			}
			var hosts []string
			for _, mx := range got.Records {
				hosts = append(hosts, mx.Host)
			}
			if want := slices.DeleteFunc([]string{tc.wantHost}, func(s string) bool { return s == "" }); !slices.Equal(hosts, want) {
				t.Errorf("hosts = %q, want %q", hosts, want)
			}
		})
	}
	if n := len(srv.QueriesFor("other.zone", dns.TypeMX)); n != 1 {
		t.Errorf("the target outside the answer was asked %d times, want 1", n)
	}
}

// TestCNAMESecureNeedsEveryReply: an answer made of two replies is secure
// only if both were.
func TestCNAMESecureNeedsEveryReply(t *testing.T) {
	srv := dnstest.NewServer(t,
		"alias.test. 300 IN CNAME target.zone.",
		"target.zone. 300 IN MX 10 mx.target.zone.",
	)
	srv.Set("alias.test", dnstest.Behaviour{CNAMEOnly: true, Secure: true})
	c := newClient(t, srv, true)
	got, err := c.LookupMX(testContext(t), "alias.test")
	wantKind(t, err, 0)
	if got.Secure {
		t.Error("Secure with an insecure reply for the target")
	}
	srv.Set("target.zone", dnstest.Behaviour{Secure: true})
	if got, _ := c.LookupMX(testContext(t), "alias.test"); !got.Secure {
		t.Error("not Secure though both replies had AD")
	}
}
