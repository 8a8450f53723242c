package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// capacityBudget is the probe budget of the capacity modules, as the
// exporter computes it from Prometheus's 10 s scrape timeout header minus
// its 0.5 s offset; an answer later than budget + 250 ms breaks SPEC.
const (
	capacityBudget = 9500 * time.Millisecond
	answerSlack    = 250 * time.Millisecond
)

// capacityLab is what the capacity bench runs against: the MTA, a tarpit,
// the DNS server for bench.test, and the exporter's configuration.
type capacityLab struct {
	dir, exporterBin string
	clkTck           float64
	mta              *mta
	tarpitPort       int
	stopTarpit       func()
	dns              *benchDNS
	haWindow         time.Duration
}

func runCapacity(args []string) error {
	fs := flag.NewFlagSet("capacity", flag.ExitOnError)
	bin := fs.String("exporter-bin", "", "the smtp_exporter binary to measure")
	rates := fs.String("rates", "50,100,200,400", "offered probes per second, step by step")
	step := fs.Duration("step", 8*time.Second, "how long each rate is offered")
	levels := fs.String("inflight", "250,600", "probes held in flight at once against the tarpit, for memory")
	haTargets := fs.Int("ha-targets", 40, "targets the HA pair scrapes")
	haInterval := fs.Duration("ha-interval", 2*time.Second, "the HA pair's scrape interval (share_window is half)")
	haIntervals := fs.Int("ha-intervals", 10, "intervals the HA pair scrapes")
	clk := fs.Float64("clktck", 100, "clock ticks per second (getconf CLK_TCK)")
	out := fs.String("out", "", "append the JSON records to this file")
	fs.Parse(args)
	if *bin == "" {
		return errors.New("capacity needs -exporter-bin")
	}
	lab, err := newCapacityLab(*bin, *clk, *haInterval/2)
	if err != nil {
		return err
	}
	defer lab.close()
	var recs []capacityRecord
	for _, kind := range []string{"host", "mx"} {
		steps, err := lab.rateSteps(kind, *rates, *step)
		if err != nil {
			return err
		}
		recs = append(recs, steps...)
		mem, err := lab.memoryLevels(kind, *levels)
		if err != nil {
			return err
		}
		recs = append(recs, mem...)
	}
	for _, share := range []bool{true, false} {
		r, err := lab.haPair(share, *haTargets, *haInterval, *haIntervals)
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	return writeCapacity(*out, recs)
}

func newCapacityLab(bin string, clk float64, haWindow time.Duration) (*capacityLab, error) {
	dir, err := os.MkdirTemp("", "smtp-exporter-capacity")
	if err != nil {
		return nil, err
	}
	lab := &capacityLab{dir: dir, exporterBin: bin, clkTck: clk, haWindow: haWindow}
	cert, err := newBenchCert(filepath.Join(dir, "ca.pem"))
	if err == nil {
		lab.mta, err = startMTA(cert)
	}
	var ln net.Listener
	if err == nil {
		ln, lab.stopTarpit, err = tarpit("127.0.0.1:0")
	}
	var dnsAddr string
	if err == nil {
		lab.tarpitPort = ln.Addr().(*net.TCPAddr).Port
		lab.dns, dnsAddr, err = startDNS()
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "config.yml"), []byte(lab.config(dnsAddr)), 0o644)
	}
	if err != nil {
		lab.close()
		return nil, err
	}
	return lab, nil
}

func (l *capacityLab) close() {
	if l.mta != nil {
		l.mta.close()
	}
	if l.stopTarpit != nil {
		l.stopTarpit()
	}
	if l.dns != nil {
		l.dns.close()
	}
	os.RemoveAll(l.dir)
}

// config is the exporter's configuration: for each kind of target (host,
// mx) a module probing the MTA and one probing the tarpit, and the HA
// pair's modules with and without share_window.
func (l *capacityLab) config(dnsAddr string) string {
	var b strings.Builder
	b.WriteString("modules:\n")
	module := func(name, targets string, port int, timeout, window time.Duration) {
		fmt.Fprintf(&b, "  %s:\n    targets: %s\n    timeout: %s\n    ip_protocol: ip4\n", name, targets, timeout)
		fmt.Fprintf(&b, "    ehlo_hostname: probe.bench.test\n    dns: {server: %q}\n", dnsAddr)
		fmt.Fprintf(&b, "    tls_config: {ca_file: %q}\n    expect: {verify_certificate: true}\n", filepath.Join(l.dir, "ca.pem"))
		fmt.Fprintf(&b, "    ports: [{port: %d, tls: starttls}]\n    share_window: %s\n", port, window)
	}
	module("host", "host", l.mta.port(), 10*time.Second, 0)
	module("mx", "mx", l.mta.port(), 10*time.Second, 0)
	module("host_tarpit", "host", l.tarpitPort, 10*time.Second, 0)
	module("mx_tarpit", "mx", l.tarpitPort, 10*time.Second, 0)
	module("ha_shared", "host", l.mta.port(), 10*time.Second, l.haWindow)
	module("ha_unshared", "host", l.mta.port(), 10*time.Second, 0)
	return b.String()
}

// exporterProcess is one run of smtp_exporter under measurement.
type exporterProcess struct {
	cmd  *exec.Cmd
	pid  string
	base string
}

// startExporter runs a fresh exporter on a free loopback port and waits
// until it is ready.
func (l *capacityLab) startExporter() (*exporterProcess, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(l.exporterBin, "--config.file="+filepath.Join(l.dir, "config.yml"),
		"--web.listen-address="+addr, "--log.level=warn", "--probe.max-concurrent=5000")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &exporterProcess{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), base: "http://" + addr}
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := client.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.stop()
	return nil, fmt.Errorf("the exporter at %s did not get ready", addr)
}

func (p *exporterProcess) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// probeURL is the /probe URL of target i of kind (host, mx, host_tarpit,
// mx_tarpit, ha_shared, ha_unshared): every target its own name, so that
// nothing is shared unless the module says so.
func (p *exporterProcess) probeURL(module string, i int) string {
	target := fmt.Sprintf("h%d.%s", i, benchDomain)
	if strings.HasPrefix(module, "mx") {
		target = fmt.Sprintf("d%d.%s", i, benchDomain)
	}
	return p.base + "/probe?module=" + module + "&target=" + target
}
