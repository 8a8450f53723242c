package dnsclient_test

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

// reply answers query with one MX record, then lets edit spoil it.
func reply(query *dns.Msg, edit func(*dns.Msg)) []byte {
	m := new(dns.Msg)
	m.SetReply(query)
	mx, _ := dns.NewRR(query.Question[0].Name + " 300 IN MX 10 mx.example.test.")
	m.Answer = append(m.Answer, mx)
	edit(m)
	out, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return out
}

// TestHostileReplies: replies that do not answer the query sent, or are not
// DNS, are rejected, never read as answers.
func TestHostileReplies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(q *dns.Msg) []byte
		kind    dnsclient.Kind
	}{
		{"wrong ID", func(q *dns.Msg) []byte { return reply(q, func(m *dns.Msg) { m.Id++ }) }, dnsclient.Malformed},
		{"wrong name", func(q *dns.Msg) []byte {
			return reply(q, func(m *dns.Msg) { m.Question[0].Name = "other.test." })
		}, dnsclient.Malformed},
		{"wrong type", func(q *dns.Msg) []byte {
			return reply(q, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeA })
		}, dnsclient.Malformed},
		{"two questions", func(q *dns.Msg) []byte {
			return reply(q, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })
		}, dnsclient.Malformed},
		{"not a response", func(q *dns.Msg) []byte { return reply(q, func(m *dns.Msg) { m.Response = false }) }, dnsclient.Malformed},
		{"garbage", func(q *dns.Msg) []byte { return []byte("220 smtp.example.test ESMTP\r\n") }, dnsclient.Malformed},
		{"larger than advertised", func(q *dns.Msg) []byte {
			return reply(q, func(m *dns.Msg) {
				for range 200 {
					m.Answer = append(m.Answer, m.Answer[0])
				}
			})
		}, dnsclient.Malformed},
		{"FORMERR without question", func(q *dns.Msg) []byte {
			return reply(q, func(m *dns.Msg) { m.Question, m.Answer, m.Rcode = nil, nil, dns.RcodeFormatError })
		}, dnsclient.ServFail},
		{"well-formed", func(q *dns.Msg) []byte { return reply(q, func(*dns.Msg) {}) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := dnstest.NewUDPResponder(t, tc.respond)
			c, err := dnsclient.New(dnsclient.Options{Server: addr})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.LookupMX(testContext(t), "victim.test")
			wantKind(t, err, tc.kind)
			if tc.kind != 0 && len(got.Records) != 0 {
				t.Errorf("records = %v from a rejected reply", got.Records)
			}
			if tc.kind == 0 && len(got.Records) != 1 {
				t.Errorf("records = %v, want the one MX", got.Records)
			}
		})
	}
}
