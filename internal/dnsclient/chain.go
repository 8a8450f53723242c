package dnsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// MaxRecords is the most records of one type an answer keeps; the rest of
// a larger RRset is dropped.
const MaxRecords = 64

// maxCNAMEHops bounds the CNAME chain followed from the name asked.
const maxCNAMEHops = 8

// LookupInfo describes how an answer was obtained. A failed lookup still
// reports the aliases it followed, and Secure for an NXDOMAIN, SERVFAIL or
// REFUSED reply (a secure NXDOMAIN is an authenticated denial).
type LookupInfo struct {
	// Secure is true when DNSSEC is on and every reply that made the answer
	// had the AD bit set, as the resolver gives it; false when a query got
	// no reply.
	Secure bool
	// CNAMEs lists the aliases followed from the name asked, in order: the
	// target of each CNAME; the last is the name that holds the records.
	// Empty when the name asked was not an alias.
	CNAMEs []string
	// Duration is how long the whole lookup took.
	Duration time.Duration
	// Truncated: the answer held more than MaxRecords records of the type
	// asked; the rest were dropped.
	Truncated bool
}

// rrset is the outcome of asking one question with CNAMEs followed.
type rrset struct {
	records []dns.RR // of the asked type, at most MaxRecords
	info    LookupInfo
}

// lookup asks q, follows CNAMEs within each reply and, when a chain's end
// is not answered, asks again for its target.
func (c *Client) lookup(ctx context.Context, q question) (rrset, error) {
	var set rrset
	set.info.Secure = c.dnssec
	seen := map[string]bool{q.name: true}
	for {
		reply, err := c.exchange(ctx, q)
		if err != nil {
			set.info.Secure = false
			return set, err
		}
		set.info.Secure = set.info.Secure && reply.AuthenticatedData
		owner, err := followCNAMEs(reply.Answer, q.name, seen, &set.info)
		if err != nil {
			return set, q.fail(Malformed, 0, err)
		}
		next := question{name: owner, qtype: q.qtype}
		if reply.Rcode != dns.RcodeSuccess {
			return set, rcodeError(next, reply.Rcode)
		}
		set.records, set.info.Truncated = recordsOf(reply.Answer, next)
		if owner == q.name || len(set.records) > 0 {
			return set, nil
		}
		q = next // the chain's end is not in this reply: ask for it
	}
}

// followCNAMEs walks the CNAME chain from name through answer, appending each
// target to info.CNAMEs, and returns the chain's end.
func followCNAMEs(answer []dns.RR, name string, seen map[string]bool, info *LookupInfo) (string, error) {
	for {
		target, ok := cnameTarget(answer, name)
		if !ok {
			return name, nil
		}
		if seen[target] {
			return "", fmt.Errorf("CNAME loop at %s", hostName(target))
		}
		if len(info.CNAMEs) == maxCNAMEHops {
			return "", fmt.Errorf("CNAME chain longer than %d", maxCNAMEHops)
		}
		seen[target] = true
		info.CNAMEs = append(info.CNAMEs, hostName(target))
		name = target
	}
}

// cnameTarget returns the target of the CNAME owned by name in answer.
func cnameTarget(answer []dns.RR, name string) (string, bool) {
	for _, rr := range answer {
		if cname, ok := rr.(*dns.CNAME); ok && equalNames(cname.Hdr.Name, name) {
			return dns.CanonicalName(cname.Target), true
		}
	}
	return "", false
}

// recordsOf returns the records of q's type owned by q's name, at most
// MaxRecords of them, and whether there were more.
func recordsOf(answer []dns.RR, q question) ([]dns.RR, bool) {
	var out []dns.RR
	for _, rr := range answer {
		h := rr.Header()
		if h.Rrtype == q.qtype && h.Class == dns.ClassINET && equalNames(h.Name, q.name) {
			if len(out) == MaxRecords {
				return out, true
			}
			out = append(out, rr)
		}
	}
	return out, false
}

// equalNames compares two fully qualified names, ignoring case.
func equalNames(a, b string) bool {
	return dns.CanonicalName(a) == dns.CanonicalName(b)
}

// lookupRecords asks q under a bounded context and converts each record of
// the answer; a record that does not convert makes the lookup Malformed.
// The LookupInfo's Duration covers the whole lookup.
func lookupRecords[T any](ctx context.Context, c *Client, q question, convert func(dns.RR) (T, error)) ([]T, LookupInfo, error) {
	start := time.Now()
	ctx, cancel := withBudget(ctx)
	defer cancel()
	set, err := c.lookup(ctx, q)
	var out []T
	for _, rr := range set.records {
		v, convErr := convert(rr)
		if convErr != nil {
			err = q.fail(Malformed, 0, fmt.Errorf("%s record: %w", dns.TypeToString[q.qtype], convErr))
			out = nil
			break
		}
		out = append(out, v)
	}
	set.info.Duration = time.Since(start)
	return out, set.info, err
}
