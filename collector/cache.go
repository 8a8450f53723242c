package collector

import "sync"

// boundedCache keeps values that are dear to compute and repeat from probe
// to probe. When full it starts over, so whatever the targets send it never
// holds more than limit entries.
type boundedCache[K comparable, V any] struct {
	mu    sync.Mutex
	limit int
	m     map[K]V
}

func newBoundedCache[K comparable, V any](limit int) *boundedCache[K, V] {
	return &boundedCache[K, V]{limit: limit, m: make(map[K]V)}
}

// get returns the value kept for key, or computes, keeps and returns it.
// compute runs outside the lock.
func (c *boundedCache[K, V]) get(key K, compute func() V) V {
	if v, ok := c.lookup(key); ok {
		return v
	}
	v := compute()
	c.put(key, v)
	return v
}

// lookup returns the value kept for key, if any.
func (c *boundedCache[K, V]) lookup(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// put keeps v for key, first emptying the cache when it is full.
func (c *boundedCache[K, V]) put(key K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.limit {
		clear(c.m)
	}
	c.m[key] = v
}

// len reports how many entries the cache holds.
func (c *boundedCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
