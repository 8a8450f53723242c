package limits

import "sync"

// Admission counts probe sockets in flight against a capacity: a probe
// takes what it needs before it opens any, or is refused at once.
type Admission struct {
	mu       sync.Mutex
	capacity int
	inUse    int
}

// NewAdmission admits up to capacity sockets at once.
func NewAdmission(capacity int) *Admission { return &Admission{capacity: capacity} }

// TryAcquire takes n, or nothing and false when fewer than n are free.
func (a *Admission) TryAcquire(n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inUse+n > a.capacity {
		return false
	}
	a.inUse += n
	return true
}

// Release gives back n taken by TryAcquire.
func (a *Admission) Release(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse -= n
}

// InUse returns how many are taken.
func (a *Admission) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

// Capacity returns how many may be taken at once.
func (a *Admission) Capacity() int { return a.capacity }
