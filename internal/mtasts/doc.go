// Package mtasts checks a mail domain's MTA-STS policy (RFC 8461) and its
// TLS-RPT record (RFC 8460) as a sending MTA would find them now: the
// _mta-sts TXT record, the policy served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, and the _smtp._tls TXT
// record. It also holds the rules that judge an MX host against a policy:
// MatchMX for the mx patterns and Session.Valid for RFC 8461 §4.
//
// Check keeps no cache: every call reads the record and fetches the policy
// afresh, within its context's deadline. The policy host is named by whoever
// owns the domain, so every address it resolves to is checked against
// Options.Allowed before anything is dialled, and only a checked address is
// dialled (by IP, never through Go's resolver). The fetch is one HTTPS/1.1
// request on one connection: no proxy, no redirects followed, no cookies,
// no keep-alive.
//
// Where the RFCs leave room, the package decides so:
//   - A TXT lookup that fails (SERVFAIL, timeout …) is fetch_failed, not
//     absent: the policy is unknown, not known to be missing. NXDOMAIN and
//     NODATA are absent. The same failure of the TLS-RPT lookup gives
//     CheckTLSRPT no result at all.
//   - A policy host with any address outside Options.Allowed (or with more
//     addresses than the resolver keeps) is fetch_failed with a
//     *NotAllowedError, and nothing is dialled, as for any target.
//   - The grammar is applied as written: a policy file with an empty line
//     or an mx with a trailing dot is policy_invalid; a TXT record may end
//     in spaces or tabs.
//
// The package knows nothing of Prometheus or HTTP handlers: Report.Result
// is the value of probe_smtp_mta_sts_info{result}, and CheckTLSRPT's result
// that of probe_smtp_tlsrpt_info{result}.
package mtasts
