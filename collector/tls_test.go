package collector

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"testing"
)

func TestChainInfoLabels(t *testing.T) {
	ca := newTestCA(t)
	a := ca.issue(t, certSpec{names: []string{"mx.test", "127.0.0.1"}, serial: 0xabc}).Leaf
	b := ca.issue(t, certSpec{names: []string{"other.test"}, serial: 0xdef}).Leaf
	sum := sha256.Sum256(a.Raw)
	want := []string{"CN=mx.test", ca.cert.Subject.String(), "abc", hex.EncodeToString(sum[:]), "mx.test,127.0.0.1"}
	got := chainInfo(a)
	if !slices.Equal(got, want) {
		t.Errorf("chainInfo = %q, want %q", got, want)
	}
	if again := chainInfo(a); &again[0] != &got[0] {
		t.Error("the same certificate was formatted twice, not taken from the cache")
	}
	if other := chainInfo(b); other[0] != "CN=other.test" || other[2] != "def" {
		t.Errorf("another certificate got %q", other)
	}
}

// TestChainInfoCacheIsBounded: a server with a new certificate on every
// connection must not grow the cache without end.
func TestChainInfoCacheIsBounded(t *testing.T) {
	for i := range 3 * chainInfoCacheSize {
		leaf := &x509.Certificate{Raw: []byte{byte(i), byte(i >> 8), 1}}
		if got := chainInfo(leaf); len(got) != 5 {
			t.Fatalf("%d label values, want 5", len(got))
		}
		if n := chainInfos.len(); n > chainInfoCacheSize {
			t.Fatalf("cache holds %d entries, bound %d", n, chainInfoCacheSize)
		}
	}
}
