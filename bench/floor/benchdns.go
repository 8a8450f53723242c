package main

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// benchDNS answers for bench.test on loopback, over UDP and TCP: every
// name has the A record 127.0.0.1 and no AAAA; d<N>.bench.test has the MX
// record "10 mx<N>.bench.test."; other types get an empty answer.
type benchDNS struct {
	udp, tcp *dns.Server
}

func startDNS() (*benchDNS, string, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := pc.LocalAddr().String()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return nil, "", err
	}
	h := dns.HandlerFunc(answerBench)
	b := &benchDNS{udp: &dns.Server{PacketConn: pc, Handler: h}, tcp: &dns.Server{Listener: ln, Handler: h}}
	go b.udp.ActivateAndServe()
	go b.tcp.ActivateAndServe()
	return b, addr, nil
}

func (b *benchDNS) close() {
	b.udp.Shutdown()
	b.tcp.Shutdown()
}

func answerBench(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		if !dns.IsSubDomain(benchDomain+".", name) {
			m.Rcode = dns.RcodeRefused
			continue
		}
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 300, Rrtype: q.Qtype}
		switch label := dns.SplitDomainName(name)[0]; {
		case q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IPv4(127, 0, 0, 1)})
		case q.Qtype == dns.TypeMX && strings.HasPrefix(label, "d"):
			m.Answer = append(m.Answer, &dns.MX{Hdr: hdr, Preference: 10, Mx: "mx" + label[1:] + "." + benchDomain + "."})
		}
	}
	w.WriteMsg(m)
}
