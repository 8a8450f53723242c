package main

import (
	"fmt"
	"math"
	"runtime"
	"time"
)

// Sizing assumptions: Prometheus scrapes every sizingInterval with a
// 15 s scrape timeout, so a probe's budget is the module's 10 s; a
// replica holds at most maxInFlight probes (--probe.max-concurrent).
const (
	sizingInterval = 60 * time.Second
	sizingBudget   = 10 * time.Second
	maxInFlight    = 1000
)

func writeCapacity(out string, recs []capacityRecord) error {
	for _, r := range recs {
		if err := appendJSON(out, r); err != nil {
			return err
		}
	}
	fmt.Printf("\nsmtp_exporter capacity — %s, %d CPUs, %s\n", time.Now().UTC().Format("2006-01-02T15:04Z"), runtime.NumCPU(), runtime.Version())
	fmt.Println("\nProbes offered open loop, each target its own name (bench.test DNS and MTA on loopback, STARTTLS, ECDSA P-256)")
	fmt.Println("| kind | offered /s | sent /s | answered | failed | p50 ms | p99 ms | CPU ms/probe | exporter cores | held |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range recs {
		if r.Phase == "rate" {
			fmt.Printf("| %s | %.0f | %.0f | %d | %d | %.1f | %.1f | %.3f | %.2f | %v |\n", r.Kind, r.OfferedRate, r.SentRate,
				r.Answered, r.Fails, r.P50Ms, r.P99Ms, r.CPUMs, r.CPUMs*r.SentRate/1000, r.Held)
		}
	}
	fmt.Println("\nMemory with probes held in flight against a tarpit (a fresh exporter per row)")
	fmt.Println("| kind | in flight | RSS idle MiB | RSS MiB | KiB per session (RSS) | Go heap+stacks added MiB | probe sockets reserved per probe, of the limit |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range recs {
		if r.Phase == "memory" {
			fmt.Printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f of %.0f |\n", r.Kind, r.InFlight, r.RSSIdleMiB, r.RSSMiB,
				r.KiBPerSession, r.HeapStackMiB, r.SocketsPer, r.SocketsLimit)
		}
	}
	fmt.Println("\nHA pair: sessions per target per interval (goal 1.0 with share_window, 2.0 without)")
	for _, r := range recs {
		if r.Phase == "ha" {
			fmt.Printf("  share %-5v %d targets x %d intervals: %d sessions, %.0f shared answers: %.2f\n",
				r.Share, r.Targets, r.Intervals, r.Sessions, r.SharedAnswers, r.PerTargetRound)
		}
	}
	printSizing(recs)
	return nil
}

// capacityFigures are one kind's measured figures the sizing uses.
type capacityFigures struct {
	sustained, cpuMsSustained, cpuMs, kibPerSession, idleMiB float64
	// maxInFlight is how many probes of the kind one replica admits at
	// once: --probe.max-concurrent, or fewer when the probe sockets they
	// reserve exhaust the descriptor limit.
	maxInFlight float64
}

// figures takes, for kind, the highest held rate and its CPU per probe;
// the highest CPU per probe of any held rate (a lightly loaded exporter
// pays more per probe: the sizing uses that); and the memory per session
// at the largest in-flight level.
func figures(recs []capacityRecord, kind string) capacityFigures {
	var f capacityFigures
	for _, r := range recs {
		switch {
		case r.Kind != kind:
		case r.Phase == "rate" && r.Held:
			f.cpuMs = max(f.cpuMs, r.CPUMs)
			if r.OfferedRate > f.sustained {
				f.sustained, f.cpuMsSustained = r.OfferedRate, r.CPUMs
			}
		case r.Phase == "memory":
			f.kibPerSession, f.idleMiB = r.KiBPerSession, r.RSSIdleMiB
			f.maxInFlight = maxInFlight
			if r.SocketsPer > 0 {
				f.maxInFlight = min(maxInFlight, math.Floor(r.SocketsLimit/math.Round(r.SocketsPer)))
			}
		}
	}
	return f
}

// printSizing derives, from the measured figures, what N targets scraped
// every minute by an HA pair with share_window need.
func printSizing(recs []capacityRecord) {
	fmt.Printf("\nSizing: targets every %s, an HA pair sharing each probe (one session per target per interval)\n", sizingInterval)
	fmt.Println("| targets | kind | probes/s | CPU cores | in flight, worst case | memory, worst case | replicas N |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, kind := range []string{"host", "mx"} {
		f := figures(recs, kind)
		if f.cpuMs == 0 {
			continue
		}
		for _, targets := range []int{1000, 10000, 100000} {
			rate := float64(targets) / sizingInterval.Seconds()
			cores := rate * f.cpuMs / 1000
			inFlight := rate * sizingBudget.Seconds()
			n := max(math.Ceil(cores), math.Ceil(inFlight/f.maxInFlight))
			mem := f.idleMiB*n + inFlight*f.kibPerSession/1024
			fmt.Printf("| %d | %s | %.1f | %.2f | %.0f | %.0f MiB | %.0f |\n", targets, kind, rate, cores, inFlight, mem, n)
		}
		fmt.Printf("  %s: held up to %.0f probes/s at %.3f ms CPU each = %.0f probes/s per core; sized with the dearest held rate's %.3f ms (%.0f per core); %.1f KiB per session in flight\n",
			kind, f.sustained, f.cpuMsSustained, 1000/f.cpuMsSustained, f.cpuMs, 1000/f.cpuMs, f.kibPerSession)
		fmt.Printf("  %s: a replica admits %.0f such probes in flight at once (N = max(cores, in flight / that))\n", kind, f.maxInFlight)
	}
}
