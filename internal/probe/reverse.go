package probe

import (
	"context"
	"slices"
	"strings"
)

// ReverseDNS is what the dialled address's PTR records say (reverse_dns).
type ReverseDNS struct {
	// Names are the address's PTR names.
	Names []string
	// FCrDNS: a PTR name resolves back to the dialled address.
	FCrDNS bool
	// BannerMatch: the greeting's first word is a PTR name or the host.
	BannerMatch bool
	// Err is why the PTR lookup failed; nil if it answered.
	Err error
}

// maxPTRNames bounds the PTR names resolved forward.
const maxPTRNames = 4

// maxBannerName bounds the greeting's first word kept.
const maxBannerName = 255

// checkReverse looks up the PTR names of the address res dialled and
// resolves them forward (forward-confirmed reverse DNS), within ctx.
func checkReverse(ctx context.Context, r Resolver, res *Result) *ReverseDNS {
	rev := &ReverseDNS{}
	answer, err := r.LookupPTR(ctx, res.Dialled)
	if err != nil {
		rev.Err = err
		res.Transcript.notef("reverse DNS of %s failed: %v", res.Dialled, err)
	}
	rev.Names = answer.Names
	for _, name := range rev.Names[:min(len(rev.Names), maxPTRNames)] {
		if fwd, err := r.LookupAddrs(ctx, name, "ip"); err == nil && slices.Contains(fwd.Addrs(), res.Dialled) {
			rev.FCrDNS = true
			break
		}
	}
	rev.BannerMatch = res.BannerName != "" &&
		(sameName(res.BannerName, res.Host) || slices.ContainsFunc(rev.Names, func(n string) bool { return sameName(n, res.BannerName) }))
	res.Transcript.notef("reverse DNS of %s: %q, forward-confirmed %t, greeting name %q matches %t",
		res.Dialled, rev.Names, rev.FCrDNS, res.BannerName, rev.BannerMatch)
	return rev
}

// sameName compares host names without case or trailing dot.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// bannerName is the first word of a greeting line, bounded.
func bannerName(line string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	return name[:min(len(name), maxBannerName)]
}
