package heapfloor

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 16 * mib, 400},
		{1 * mib, 16 * mib, 400},     // heap minimum 16 MiB; 5 MiB proportional
		{4 * mib, 16 * mib, 300},     // 4 × (1 + 3) = 16
		{5 * mib, 16 * mib, 220},     // 5 × 3.2 = 16
		{8 * mib, 16 * mib, 100},     // twice the live heap reaches the floor
		{40 * mib, 16 * mib, 100},    // above the floor: GOGC=100 as ever
		{1 * mib, 4 * mib, 100},      // Go's own minimum
		{1 * mib, 2 * mib, 100},      // below Go's own minimum
		{100 * 1024, 64 * mib, 1600}, // 64 MiB heap minimum
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collectUntil runs collections until the GOGC in effect is want.
func collectUntil(t *testing.T, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for readMetric("/gc/gogc:percent") != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d after 5 s of collections, want %d", readMetric("/gc/gogc:percent"), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

var retained []byte

// TestStartFollowsTheLiveHeap runs the real collector: a small live heap
// gets the floor as its goal, a large one twice its size, and stop restores
// GOGC=100.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC") // t.Setenv restores it afterwards
	runtime.GC()        // a small live heap, whatever earlier tests left
	stop := Start(16 * mib)
	if p := readMetric("/gc/gogc:percent"); p != 400 {
		t.Errorf("GOGC %d right after Start, want 400: the first collection should wait for the floor too", p)
	}
	collectUntil(t, 400)
	if goal := readMetric("/gc/heap/goal:bytes"); goal < 16*mib {
		t.Errorf("heap goal %d with a small live heap, want at least the 16 MiB floor", goal)
	}

	retained = make([]byte, 40*mib)
	collectUntil(t, 100)
	goal, live := readMetric("/gc/heap/goal:bytes"), readMetric("/gc/heap/live:bytes")
	if goal > 2*live+4*mib {
		t.Errorf("heap goal %d with %d live, want about twice the live heap", goal, live)
	}
	retained = nil

	collectUntil(t, 400)
	stop()
	runtime.GC()
	if p := readMetric("/gc/gogc:percent"); p != 100 {
		t.Errorf("GOGC %d after stop, want 100", p)
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if p := readMetric("/gc/gogc:percent"); p != 100 {
		t.Errorf("GOGC %d after stop and a collection, want 100", p)
	}
}

// TestStartLeavesAnOperatorsGOGC: with GOGC in the environment, Start
// changes nothing.
func TestStartLeavesAnOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "100")
	stop := Start(16 * mib)
	defer stop()
	for range 5 {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
	}
	if p := readMetric("/gc/gogc:percent"); p != 100 {
		t.Errorf("GOGC %d with GOGC=100 in the environment, want it left at 100", p)
	}
}
