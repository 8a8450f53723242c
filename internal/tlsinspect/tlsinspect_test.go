package tlsinspect

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

func TestChainInfoLabels(t *testing.T) {
	in := NewInspector()
	ca := smtptest.NewCA(t)
	a := ca.Issue(t, smtptest.CertSpec{Names: []string{"mx.test", "127.0.0.1"}, Serial: 0xabc}).Leaf
	b := ca.Issue(t, smtptest.CertSpec{Names: []string{"other.test"}, Serial: 0xdef}).Leaf
	sum := sha256.Sum256(a.Raw)
	want := []string{"CN=mx.test", ca.Cert.Subject.String(), "abc", hex.EncodeToString(sum[:]), "mx.test,127.0.0.1"}
	got := in.ChainInfo(factsOf(a))
	if !slices.Equal(got, want) {
		t.Errorf("chainInfo = %q, want %q", got, want)
	}
	if again := in.ChainInfo(factsOf(a)); &again[0] != &got[0] {
		t.Error("the same certificate was formatted twice, not taken from the cache")
	}
	if other := in.ChainInfo(factsOf(b)); other[0] != "CN=other.test" || other[2] != "def" {
		t.Errorf("another certificate got %q", other)
	}
}

// TestChainInfoCacheIsBounded: a server with a new certificate on every
// connection must not grow the cache without end.
func TestChainInfoCacheIsBounded(t *testing.T) {
	in := NewInspector()
	for i := range 3 * cacheSize {
		leaf := &x509.Certificate{Raw: []byte{byte(i), byte(i >> 8), 1}}
		if got := in.ChainInfo(factsOf(leaf)); len(got) != 5 {
			t.Fatalf("%d label values, want 5", len(got))
		}
		if n := in.chainInfos.Len(); n > cacheSize {
			t.Fatalf("cache holds %d entries, bound %d", n, cacheSize)
		}
	}
}

// TestVerifiedChainsCache: a chain that verified is not verified again
// while every certificate of it is valid, and only for the same roots.
func TestVerifiedChainsCache(t *testing.T) {
	in := NewInspector()
	ca := smtptest.NewCA(t)
	now := time.Now()
	leaf := ca.Issue(t, smtptest.CertSpec{Names: []string{"mx.test"}, NotAfter: now.Add(24 * time.Hour)}).Leaf
	chain := []*x509.Certificate{leaf}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	if f := in.Inspect(chain, roots, "mx.test", now); !f.Verified {
		t.Fatalf("not verified: %v", f.VerifyErr)
	}
	key := verifiedKey{digestOf(chain), roots}
	want := validity{notBefore: leaf.NotBefore, notAfter: leaf.NotAfter} // within the CA's
	if ca.Cert.NotBefore.After(want.notBefore) {
		want.notBefore = ca.Cert.NotBefore
	}
	if v, ok := in.verified.Lookup(key); !ok || !v.notBefore.Equal(want.notBefore) || !v.notAfter.Equal(want.notAfter) {
		t.Errorf("kept %v (%t), want %v: when both the leaf and the CA are valid", v, ok, want)
	}
	if f := in.Inspect(chain, roots, "mx.test", now.Add(48*time.Hour)); f.Verified {
		t.Error("verified from the cache after the leaf expired")
	}

	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(smtptest.NewCA(t).Cert)
	if f := in.Inspect(chain, otherRoots, "mx.test", now); f.Verified {
		t.Error("verified against roots that did not sign it: the cache answered for other roots")
	}
	if _, ok := in.verified.Lookup(verifiedKey{digestOf(chain), otherRoots}); ok {
		t.Error("a chain that failed was kept")
	}

	// What the cache holds is the answer: a self-signed chain marked as
	// verified within its validity comes out verified.
	selfSigned := []*x509.Certificate{(*smtptest.CA)(nil).Issue(t, smtptest.CertSpec{Names: []string{"mx.test"}}).Leaf}
	in.verified.Put(verifiedKey{digestOf(selfSigned), roots}, validityOf(selfSigned))
	if f := in.Inspect(selfSigned, roots, "mx.test", now); !f.Verified {
		t.Error("the kept answer was not used")
	}
}

func TestChainDigestTakesEveryCertificate(t *testing.T) {
	leaf := sha256.Sum256([]byte("leaf"))
	a := &x509.Certificate{Raw: []byte("ab")}
	b := &x509.Certificate{Raw: []byte("c")}
	c := &x509.Certificate{Raw: []byte("a")}
	d := &x509.Certificate{Raw: []byte("bc")}
	if chainDigest(leaf, []*x509.Certificate{a, b}) == chainDigest(leaf, []*x509.Certificate{c, d}) {
		t.Error(`chains "ab","c" and "a","bc" have one digest: lengths are not hashed`)
	}
	if chainDigest(leaf, nil) == chainDigest(leaf, []*x509.Certificate{b}) {
		t.Error("an intermediate does not change the digest")
	}
	if chainDigest(leaf, nil) == chainDigest(sha256.Sum256([]byte("other")), nil) {
		t.Error("the leaf does not change the digest")
	}
}

// factsOf is what Inspect records of a chain before checking it.
func factsOf(chain ...*x509.Certificate) *CertFacts {
	return &CertFacts{Chain: chain, LeafSHA256: sha256.Sum256(chain[0].Raw)}
}

// digestOf is the chain part of the verified cache key of a served chain.
func digestOf(chain []*x509.Certificate) [sha256.Size]byte {
	return chainDigest(sha256.Sum256(chain[0].Raw), chain[1:])
}
