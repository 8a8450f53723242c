// Package tlsinspect inspects the TLS of an SMTP session: the client
// configuration that always completes the handshake and captures the
// served chain, the facts checked on that chain afterwards, and the names
// of versions and cipher suites. An Inspector owns the caches that keep
// repeated work off each probe.
package tlsinspect

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/boundedcache"
)

// allCipherSuites lists every suite crypto/tls implements, the insecure ones
// (RSA key exchange, 3DES, RC4) included, so that a server stuck on old TLS
// is reported with what it negotiated rather than failing outright. Whether
// that counts as success is the module's expect. cipherNames maps their IDs
// to names once: tls.CipherSuiteName rebuilds its lists on every call.
// Both are read only.
var allCipherSuites, cipherNames = func() ([]uint16, map[uint16]string) {
	ids, names := []uint16{}, map[uint16]string{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids = append(ids, s.ID)
		names[s.ID] = s.Name
	}
	return ids, names
}()

// CipherName returns the name of a cipher suite, as crypto/tls spells it.
func CipherName(id uint16) string {
	if name, ok := cipherNames[id]; ok {
		return name
	}
	return tls.CipherSuiteName(id)
}

// tlsVersionNames uses blackbox_exporter's spelling of versions.
var tlsVersionNames = map[uint16]string{
	tls.VersionSSL30: "SSL 3.0",
	tls.VersionTLS10: "TLS 1.0",
	tls.VersionTLS11: "TLS 1.1",
	tls.VersionTLS12: "TLS 1.2",
	tls.VersionTLS13: "TLS 1.3",
}

// VersionName returns a TLS version's name as blackbox_exporter spells it
// ("TLS 1.2").
func VersionName(v uint16) string {
	if name, ok := tlsVersionNames[v]; ok {
		return name
	}
	return fmt.Sprintf("unknown (0x%04x)", v)
}

// CertFacts are what the probe learnt from the server's Certificate message.
type CertFacts struct {
	// Chain is the served chain, leaf first.
	Chain []*x509.Certificate
	// LeafSHA256 is the leaf's fingerprint.
	LeafSHA256 [sha256.Size]byte
	// Verified: the chain verifies to the configured or system roots.
	Verified bool
	// VerifyErr says why it did not.
	VerifyErr error
	// VerifiedExpiry is the earliest NotAfter of the chain that verified
	// (blackbox's probe_ssl_last_chain_expiry_timestamp_seconds); zero
	// when the chain did not verify.
	VerifiedExpiry time.Time
	// HostnameMatch: the leaf is valid for the checked name.
	HostnameMatch bool
	// HostnameErr says why it is not.
	HostnameErr error
	// Info are the leaf's label values for probe_ssl_last_chain_info, as
	// Inspector.ChainInfo returns them: shared, read only.
	Info []string
}

// Leaf returns the server's own certificate.
func (c *CertFacts) Leaf() *x509.Certificate { return c.Chain[0] }

// EarliestExpiry returns the earliest NotAfter of the served chain.
func (c *CertFacts) EarliestExpiry() time.Time {
	earliest := c.Chain[0].NotAfter
	for _, cert := range c.Chain[1:] {
		if cert.NotAfter.Before(earliest) {
			earliest = cert.NotAfter
		}
	}
	return earliest
}

// Capture keeps the certificates of a handshake, even one that fails
// after the Certificate message. The zero value is ready.
type Capture struct {
	chain []*x509.Certificate
}

// Chain returns the captured chain, leaf first; nil when no Certificate
// message arrived.
func (c *Capture) Chain() []*x509.Certificate { return c.chain }

// verifyConnection is a tls.Config.VerifyConnection that only records the
// chain crypto/tls has parsed; it runs right after the Certificate message.
// The probe's own checks run once the handshake is over (or has failed).
func (c *Capture) verifyConnection(cs tls.ConnectionState) error {
	c.chain = cs.PeerCertificates
	return nil
}

// ClientConfig derives a session's tls.Config from the module's: every
// version from TLS 1.0 and every suite crypto/tls implements unless the
// module limits them, and a handshake that always completes, recording the
// served chain in capture; verification happens in Inspector.Inspect.
func ClientConfig(base *tls.Config, serverName string, capture *Capture) *tls.Config {
	cfg := base.Clone()
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = capture.verifyConnection
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS10
	}
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = allCipherSuites
	}
	return cfg
}

// Inspector checks served chains. It keeps two caches, safe for
// concurrent use and bounded by cacheSize entries each:
//
//   - verified: the chains that verified, keyed by a digest of every
//     certificate served and the roots. Everything Verify checks besides the
//     time is in the key, so while now lies within the validity of each
//     certificate of the chain that verified, the answer cannot change.
//     Chains that fail are verified every time.
//   - chainInfos: the leaf's probe_ssl_last_chain_info label values, keyed
//     by its fingerprint.
//
// Create one per process and share it between probes: a server presents
// the same chain scrape after scrape.
type Inspector struct {
	verified   *boundedcache.Cache[verifiedKey, validity]
	chainInfos *boundedcache.Cache[[sha256.Size]byte, []string]
}

// cacheSize bounds each cache: a target serving a new certificate on every
// connection costs a few hundred KiB at most.
const cacheSize = 512

// NewInspector returns an Inspector with empty caches.
func NewInspector() *Inspector {
	return &Inspector{
		verified:   boundedcache.New[verifiedKey, validity](cacheSize),
		chainInfos: boundedcache.New[[sha256.Size]byte, []string](cacheSize),
	}
}

// Inspect checks a captured chain against roots (nil: the system roots)
// and name, at time now; nil when the chain is empty.
func (in *Inspector) Inspect(chain []*x509.Certificate, roots *x509.CertPool, name string, now time.Time) *CertFacts {
	if len(chain) == 0 {
		return nil
	}
	facts := &CertFacts{Chain: chain, LeafSHA256: sha256.Sum256(chain[0].Raw)}
	v, err := in.verifyChain(facts, roots, now)
	facts.VerifyErr, facts.Verified = err, err == nil
	if err == nil {
		facts.VerifiedExpiry = v.notAfter
	}
	facts.HostnameErr = chain[0].VerifyHostname(strings.Trim(name, "[]"))
	facts.HostnameMatch = facts.HostnameErr == nil
	facts.Info = in.ChainInfo(facts)
	return facts
}

type verifiedKey struct {
	chain [sha256.Size]byte // chainDigest of the served chain
	roots *x509.CertPool    // nil: the system roots
}

// validity is when every certificate of a chain is valid.
type validity struct{ notBefore, notAfter time.Time }

func (v validity) contains(t time.Time) bool {
	return !t.Before(v.notBefore) && !t.After(v.notAfter)
}

func validityOf(chain []*x509.Certificate) validity {
	v := validity{notBefore: chain[0].NotBefore, notAfter: chain[0].NotAfter}
	for _, c := range chain[1:] {
		if c.NotBefore.After(v.notBefore) {
			v.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(v.notAfter) {
			v.notAfter = c.NotAfter
		}
	}
	return v
}

// chainDigest identifies a served chain: the leaf's fingerprint, then the
// other certificates in order, each with its length.
func chainDigest(leafSHA256 [sha256.Size]byte, intermediates []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	h.Write(leafSHA256[:])
	var size [4]byte
	for _, c := range intermediates {
		binary.BigEndian.PutUint32(size[:], uint32(len(c.Raw)))
		h.Write(size[:])
		h.Write(c.Raw)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// verifyChain verifies the served chain against roots at now, or finds
// that it did before within the same validity.
func (in *Inspector) verifyChain(facts *CertFacts, roots *x509.CertPool, now time.Time) (validity, error) {
	chain := facts.Chain
	key := verifiedKey{chain: chainDigest(facts.LeafSHA256, chain[1:]), roots: roots}
	if v, ok := in.verified.Lookup(key); ok && v.contains(now) {
		return v, nil
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
	})
	if err != nil {
		return validity{}, err
	}
	v := validityOf(chains[0])
	in.verified.Put(key, v)
	return v, nil
}

// ChainInfo returns the leaf's label values for probe_ssl_last_chain_info:
// subject, issuer, serial number, SHA-256 fingerprint and alternative names,
// each cut to 256 bytes. They are cached by fingerprint, as formatting names
// (pkix.Name.String) is the costliest part of an answer. The slice is
// shared: read only.
func (in *Inspector) ChainInfo(c *CertFacts) []string {
	return in.chainInfos.Get(c.LeafSHA256, func() []string { return formatChainInfo(c.Leaf(), c.LeafSHA256) })
}

func formatChainInfo(leaf *x509.Certificate, sum [sha256.Size]byte) []string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	names = append(names, leaf.EmailAddresses...)
	for _, u := range leaf.URIs {
		names = append(names, u.String())
	}
	return []string{
		cut256(leaf.Subject.String()), cut256(leaf.Issuer.String()),
		cut256(fmt.Sprintf("%x", leaf.SerialNumber)), hex.EncodeToString(sum[:]),
		cut256(strings.Join(names, ",")),
	}
}

// cut256 caps a label value at 256 bytes without splitting a UTF-8 rune.
func cut256(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.ToValidUTF8(s, "")
}
