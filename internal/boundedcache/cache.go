// Package boundedcache keeps values that are dear to compute and repeat
// from probe to probe, within a fixed number of entries.
package boundedcache

import "sync"

// Cache maps keys to values. When full it starts over, so whatever the
// targets send it never holds more than its limit. It is safe for
// concurrent use; the zero value is not ready: use New.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	limit int
	m     map[K]V
}

// New returns an empty cache holding at most limit entries.
func New[K comparable, V any](limit int) *Cache[K, V] {
	return &Cache[K, V]{limit: limit, m: make(map[K]V)}
}

// Get returns the value kept for key, or computes, keeps and returns it.
// compute runs outside the lock.
func (c *Cache[K, V]) Get(key K, compute func() V) V {
	if v, ok := c.Lookup(key); ok {
		return v
	}
	v := compute()
	c.Put(key, v)
	return v
}

// Lookup returns the value kept for key, if any.
func (c *Cache[K, V]) Lookup(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// Put keeps v for key, first emptying the cache when it is full.
func (c *Cache[K, V]) Put(key K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.limit {
		clear(c.m)
	}
	c.m[key] = v
}

// Len reports how many entries the cache holds.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
