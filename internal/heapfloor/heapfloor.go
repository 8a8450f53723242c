// Package heapfloor keeps the garbage collector's heap goal from falling
// below a floor while leaving GOGC=100's proportional goal alone above it.
//
// Go's default heap goal is twice the live heap, but never less than
// 4 MiB. A probe exporter keeps well under 1 MiB live and allocates
// ~80 KiB per probe, nearly all of it in crypto/tls, so at the default it
// collects every 20–30 probes. On a small VM each collection costs 2–4 ms
// of CPU (GODEBUG=gctrace=1: the stop-the-world phases, background and
// idle-time marking), about 4 % of what a probe costs. A floor of 16 MiB
// makes collections several times rarer; once the live heap is above half
// the floor, the goal is twice the live heap, as with GOGC=100, so peak
// memory under load does not change.
//
// The floor is applied by setting GOGC after each collection from the heap
// that collection found live. Go's heap minimum scales with GOGC (4 MiB ×
// GOGC/100), so GOGC between 100 and 100×floor/4 MiB reaches any floor.
package heapfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// goHeapMinimum is the Go runtime's heap goal minimum at GOGC=100.
const goHeapMinimum = 4 << 20

const liveHeapMetric = "/gc/heap/live:bytes"

// Percent returns the GOGC under which a collection that finds live bytes
// in use sets the next heap goal to about max(floor, 2×live).
func Percent(live, floor uint64) int {
	if floor <= goHeapMinimum || 2*live >= floor {
		return 100
	}
	highest := int(100 * floor / goHeapMinimum) // heap minimum = floor
	if live == 0 {
		return highest
	}
	return min(highest, max(100, int(100*floor/live)-100)) // live×(1+GOGC/100) = floor
}

// floorKeeper sets GOGC after each collection; stop ends that.
type floorKeeper struct {
	floor   uint64
	mu      sync.Mutex
	stopped bool
	percent int
	sample  []metrics.Sample
}

// gcCycle is allocated once per collection: its cleanup runs after the
// collection that found it unreachable. It holds a pointer so that it is
// not a tiny allocation, whose cleanups may be delayed.
type gcCycle struct{ _ *byte }

// Start keeps the heap goal at or above floor bytes from now on, and
// returns a function that restores GOGC=100 and stops. It does nothing
// when GOGC is set in the environment: then the operator has chosen how
// the collector paces, and that choice stands.
func Start(floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	k := &floorKeeper{floor: floor, percent: 100, sample: []metrics.Sample{{Name: liveHeapMetric}}}
	k.afterCollection() // the first collection, too, waits for the floor
	return k.stop
}

// arm asks to be called after the next collection.
func (k *floorKeeper) arm() {
	runtime.AddCleanup(new(gcCycle), (*floorKeeper).afterCollection, k)
}

// afterCollection sets GOGC from the live heap the last collection found
// and asks to be called again after the next one.
func (k *floorKeeper) afterCollection() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	metrics.Read(k.sample)
	if k.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := Percent(k.sample[0].Value.Uint64(), k.floor); p != k.percent {
			debug.SetGCPercent(p)
			k.percent = p
		}
	}
	k.arm()
}

func (k *floorKeeper) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.stopped {
		k.stopped = true
		debug.SetGCPercent(100)
	}
}
