package dnstest

import (
	"time"

	"github.com/miekg/dns"
)

// maxChain bounds the CNAME chain the server follows in one answer.
const maxChain = 16

// serve answers one query.
func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		reply := new(dns.Msg)
		reply.SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(reply)
		return
	}
	q := r.Question[0]
	proto := w.RemoteAddr().Network()
	b := s.record(r, proto)
	if b.Drop || !s.wait(b.Delay) {
		return
	}
	reply := s.answer(r, q, b, proto == "udp")
	w.WriteMsg(reply)
}

// record logs the query and returns the behaviour for its name.
func (s *Server) record(r *dns.Msg, proto string) Behaviour {
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	query := Query{Name: name, Type: q.Qtype, Proto: proto, CD: r.CheckingDisabled, RD: r.RecursionDesired}
	if opt := r.IsEdns0(); opt != nil {
		query.DO = opt.Do()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, query)
	for _, key := range []behaviourKey{{name, q.Qtype}, {name, 0}} {
		if b, ok := s.behaviour[key]; ok {
			return b
		}
	}
	return s.fallback
}

// wait sleeps for d; false if the server stopped meanwhile.
func (s *Server) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.stop:
		return false
	}
}

// answer builds the reply to r's question q under b.
func (s *Server) answer(r *dns.Msg, q dns.Question, b Behaviour, udp bool) *dns.Msg {
	reply := new(dns.Msg)
	reply.SetReply(r)
	reply.RecursionAvailable = true
	reply.AuthenticatedData = b.Secure
	if opt := r.IsEdns0(); opt != nil {
		reply.SetEdns0(opt.UDPSize(), opt.Do())
	}
	switch {
	case b.Rcode != dns.RcodeSuccess:
		reply.Rcode = b.Rcode
	case udp && b.Truncate:
		reply.Truncated = true
	default:
		reply.Answer, reply.Rcode = s.lookup(q, b.CNAMEOnly)
	}
	if udp {
		reply.Truncate(udpSize(r))
	}
	return reply
}

// udpSize is the largest UDP reply r's sender accepts.
func udpSize(r *dns.Msg) int {
	if opt := r.IsEdns0(); opt != nil && opt.UDPSize() > dns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

// lookup returns the records answering q, following CNAMEs in the table
// (unless cnameOnly) as a recursive resolver does, and the rcode: NXDOMAIN
// when the name, or the end of the chain, is absent from the table.
func (s *Server) lookup(q dns.Question, cnameOnly bool) ([]dns.RR, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := dns.CanonicalName(q.Name)
	var answer []dns.RR
	for range maxChain {
		records, ok := s.records[name]
		if !ok {
			return answer, dns.RcodeNameError
		}
		matched := ofType(records, q.Qtype)
		if len(matched) > 0 || q.Qtype == dns.TypeCNAME {
			return append(answer, matched...), dns.RcodeSuccess
		}
		cnames := ofType(records, dns.TypeCNAME)
		if len(cnames) == 0 {
			return answer, dns.RcodeSuccess // NODATA
		}
		answer = append(answer, cnames[0])
		if cnameOnly {
			return answer, dns.RcodeSuccess
		}
		name = dns.CanonicalName(cnames[0].(*dns.CNAME).Target)
	}
	return answer, dns.RcodeSuccess
}

// ofType returns the records of rrtype, each a copy carrying the owner name.
func ofType(records []dns.RR, rrtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range records {
		if rr.Header().Rrtype == rrtype {
			out = append(out, dns.Copy(rr))
		}
	}
	return out
}
