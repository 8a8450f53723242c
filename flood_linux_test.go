package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// floodDescriptorLimit is the exporter's descriptor limit in the flood
// test: 64 HTTP connections, 128 probe sockets, 64 reserved.
const floodDescriptorLimit = 256

// smtpServer serves a minimal SMTP dialogue on 127.0.0.1:0, greeting after
// delay; it returns the port.
func smtpServer(t *testing.T, delay time.Duration) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(conn, delay)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func serveSMTP(conn net.Conn, delay time.Duration) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	time.Sleep(delay)
	r := bufio.NewReader(conn)
	fmt.Fprint(conn, "220 flood.test ESMTP\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if strings.HasPrefix(strings.ToUpper(line), "QUIT") {
			fmt.Fprint(conn, "221 bye\r\n")
			return
		}
		fmt.Fprint(conn, "250 flood.test\r\n")
	}
}

// exporterProcess is the built exporter running with a low descriptor limit.
type exporterProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedWriter // over a *bytes.Buffer
}

func startLimitedExporter(t *testing.T, configYAML string) *exporterProcess {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "smtp_exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "smtp.yml")
	writeConfig(t, cfg, configYAML)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &exporterProcess{addr: addr, stderr: &lockedWriter{w: &bytes.Buffer{}}}
	// ulimit lowers the hard limit too: Go raises the soft limit to the hard one.
	p.cmd = exec.Command("sh", "-c", `ulimit -n `+strconv.Itoa(floodDescriptorLimit)+` && exec "$0" "$@"`,
		bin, "--config.file", cfg, "--web.listen-address", addr, "--log.level", "debug")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/-/healthy"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not start:\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String reads what was written, while the process may still write.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.w)
}

// resources reads the exporter's descriptors, goroutines and heap from its
// own /metrics, on a fresh connection.
func (p *exporterProcess) resources(t *testing.T) string {
	t.Helper()
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return fmt.Sprintf("fds=%d (metrics: %v)", len(fds), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	value := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			return "?"
		}
		return string(m[1])
	}
	return fmt.Sprintf("fds=%d goroutines=%s heap_inuse=%s http_connections=%s probe_sockets_in_use=%s",
		len(fds), value("go_goroutines"), value("go_memstats_heap_inuse_bytes"),
		value("smtp_exporter_http_connections"), value("smtp_exporter_probe_sockets_in_use"))
}

// holdIdle opens n keep-alive connections, each after one request, and
// keeps them open until the test ends.
func holdIdle(t *testing.T, addr string, n int) {
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			continue
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprint(conn, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// floodOutcome counts what a flood of probe requests got back.
type floodOutcome struct {
	mu                          sync.Mutex
	ok, unavailable, closedConn int
	reasons                     map[string]int
	other                       []string
}

func (o *floodOutcome) record(code int, body string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err != nil:
		o.closedConn++
	case code == http.StatusServiceUnavailable:
		o.unavailable++
	case code == http.StatusOK:
		o.ok++
		for _, m := range regexp.MustCompile(`reason="(\w+)"`).FindAllStringSubmatch(body, -1) {
			o.reasons[m[1]]++
		}
	default:
		o.other = append(o.other, fmt.Sprintf("%d %q", code, body))
	}
}

// TestDescriptorFlood runs the exporter with 256 descriptors under 600
// idle keep-alive connections and 400 probes at once: every answer is a
// probe result or a 503 (connections past --web.max-connections are
// closed unanswered), no failure blames the target for the exporter's own
// limit, the exporter never runs out of descriptors, and a healthy server
// probes fine afterwards.
func TestDescriptorFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and floods the exporter")
	}
	var slow [3]int
	for i := range slow {
		slow[i] = smtpServer(t, 1500*time.Millisecond)
	}
	healthy := smtpServer(t, 0)
	// Three sockets per slow probe: 42 fit in 128, while 64 HTTP
	// connections can carry requests, so some are answered 503.
	p := startLimitedExporter(t, fmt.Sprintf(`modules:
  slow: {timeout: 5s, ports: [{port: %d, tls: none}, {port: %d, tls: none}, {port: %d, tls: none}]}
  healthy: {timeout: 5s, ports: [{port: %d, tls: none}]}
`, slow[0], slow[1], slow[2], healthy))
	t.Logf("before: %s", p.resources(t))

	holdIdle(t, p.addr, 600)
	out := &floodOutcome{reasons: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	var wg sync.WaitGroup
	for range 400 {
		wg.Go(func() {
			resp, err := client.Get("http://" + p.addr + "/probe?module=slow&target=127.0.0.1")
			if err != nil {
				out.record(0, "", err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			out.record(resp.StatusCode, string(body), err)
		})
	}
	time.Sleep(700 * time.Millisecond)
	t.Logf("during: %s", p.resources(t))
	wg.Wait()
	client.CloseIdleConnections()

	t.Logf("answers: %d probed, %d 503, %d connections closed; failure reasons %v", out.ok, out.unavailable, out.closedConn, out.reasons)
	if len(out.other) > 0 {
		t.Errorf("unexpected answers: %q", out.other)
	}
	if out.reasons["protocol"] > 0 || out.reasons["local"] > 0 {
		t.Errorf("failures blamed on the target or the exporter's own limit: %v", out.reasons)
	}
	if out.ok == 0 || out.unavailable == 0 {
		t.Errorf("want some probes run and some refused with 503; got %d and %d", out.ok, out.unavailable)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + p.addr + "/probe?module=healthy&target=127.0.0.1")
	if err != nil {
		t.Fatalf("probe of a healthy server after the flood: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nprobe_success 1\n") {
		t.Errorf("healthy server after the flood: status %d\n%s", resp.StatusCode, body)
	}
	time.Sleep(500 * time.Millisecond)
	t.Logf("after: %s", p.resources(t))
	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Errorf("the exporter ran out of descriptors:\n%s", tail(p.stderr.String(), 20))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
