package boundedcache

import "testing"

func TestBoundedCache(t *testing.T) {
	c := New[int, int](4)
	computed := 0
	square := func(k int) int {
		return c.Get(k, func() int { computed++; return k * k })
	}
	if square(3) != 9 || square(3) != 9 || computed != 1 {
		t.Errorf("computed %d times for one key, want once", computed)
	}
	for k := range 100 {
		if got := square(k); got != k*k {
			t.Fatalf("get(%d) = %d", k, got)
		}
		if n := c.Len(); n > 4 {
			t.Fatalf("cache holds %d entries, limit 4", n)
		}
	}
}
