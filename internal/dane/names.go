package dane

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// BaseDomains returns the names whose TLSA records apply to an MX host, in
// the order RFC 7672 §2.2.2 has a sender try them: the fully expanded name
// first when the host's A/AAAA lookup followed CNAMEs (addressCNAMEs, as
// dnsclient's LookupInfo.CNAMEs gives them), then the MX host itself. The
// first that does not securely deny TLSA records is the TLSA base domain:
// the name to send as SNI (RFC 7672 §8.1) and, with the MX host, a
// reference identifier (ReferenceNames). CNAMEs of the TLSA name itself
// ("_25._tcp.<host>") only say where its records live and change none of
// this.
func BaseDomains(mxHost string, addressCNAMEs []string) []string {
	host := canonicalName(mxHost)
	if len(addressCNAMEs) == 0 {
		return []string{host}
	}
	expanded := canonicalName(addressCNAMEs[len(addressCNAMEs)-1])
	if expanded == host {
		return []string{host}
	}
	return []string{expanded, host}
}

// ReferenceNames returns the names a DANE-TA-authenticated leaf may be
// valid for (RFC 7672 §3.2.2): the TLSA base domain and the MX host name,
// once each.
func ReferenceNames(baseDomain, mxHost string) []string {
	base, host := canonicalName(baseDomain), canonicalName(mxHost)
	if base == host {
		return []string{host}
	}
	return []string{base, host}
}

// errNoReferenceName is checkNames' failure when it was given no name.
var errNoReferenceName = errors.New("no reference name to check the leaf against")

// checkNames reports whether leaf is valid for one of names: a DNS subject
// alternative name (wildcards in the leftmost label allowed) or, for a leaf
// without DNS names, its subject common name.
func checkNames(leaf *x509.Certificate, names []string) error {
	if len(names) == 0 {
		return errNoReferenceName
	}
	for _, name := range names {
		name = canonicalName(name)
		if leaf.VerifyHostname(name) == nil {
			return nil
		}
		if len(leaf.DNSNames) == 0 && canonicalName(leaf.Subject.CommonName) == name {
			return nil
		}
	}
	return fmt.Errorf("leaf certificate is not valid for %s", strings.Join(names, " or "))
}

// canonicalName lower-cases name and drops a trailing dot.
func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
