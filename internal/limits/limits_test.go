package limits

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		descriptors, connections int
		want                     Budget
		wantErr                  bool
	}{
		{1048576, 0, Budget{1048576, 1024, 1048576 - 64 - 1024}, false},
		{4096, 0, Budget{4096, 1024, 4096 - 64 - 1024}, false},
		{1024, 0, Budget{1024, 256, 1024 - 64 - 256}, false},
		{256, 0, Budget{256, 64, 128}, false},
		{1024, 100, Budget{1024, 100, 860}, false},
		{128, 64, Budget{128, 64, 0}, true},
		{100, 0, Budget{100, 25, 11}, false},
		{64, 0, Budget{64, 16, -16}, true},
	}
	for _, tt := range tests {
		got, err := Split(tt.descriptors, tt.connections)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Split(%d, %d) = %+v, %v; want %+v, error %t", tt.descriptors, tt.connections, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDescriptorLimit(t *testing.T) {
	n, err := DescriptorLimit()
	if err != nil || n < 64 {
		t.Errorf("DescriptorLimit() = %d, %v", n, err)
	}
}

func TestAdmission(t *testing.T) {
	a := NewAdmission(5)
	if !a.TryAcquire(3) || !a.TryAcquire(2) {
		t.Fatal("could not take 5 of 5")
	}
	if a.TryAcquire(1) {
		t.Error("took a sixth")
	}
	a.Release(3)
	if a.TryAcquire(4) || !a.TryAcquire(3) || a.InUse() != 5 {
		t.Errorf("after release: in use %d, want 5 with 4 refused and 3 taken", a.InUse())
	}
}

// server runs an http.Server bounded by c on 127.0.0.1:0.
func server(t *testing.T, c *Connections, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h, ConnState: c.ConnState}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// get sends one keep-alive request on conn and reads the status line.
func get(conn net.Conn, r *bufio.Reader) (string, error) {
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Status, nil
}

// TestConnectionsEvictIdleFirst: with the server full of idle keep-alive
// connections, a new client is served and the longest-idle one is closed.
func TestConnectionsEvictIdleFirst(t *testing.T) {
	var evicted atomic.Int64
	c := NewConnections(4, func(reason string) {
		if reason == "idle" {
			evicted.Add(1)
		}
	})
	addr := server(t, c, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	var idle []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if status, err := get(conn, bufio.NewReader(conn)); err != nil || !strings.HasPrefix(status, "200") {
			t.Fatalf("request: %q, %v", status, err)
		}
		idle = append(idle, conn)
		time.Sleep(10 * time.Millisecond) // distinct idle times
	}
	for i := range 10 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		status, err := get(conn, bufio.NewReader(conn))
		conn.Close()
		if err != nil || !strings.HasPrefix(status, "200") {
			t.Fatalf("request %d on a full server: %q, %v", i, status, err)
		}
	}
	if n := evicted.Load(); n < 1 {
		t.Errorf("%d idle connections evicted, want at least 1", n)
	}
	// The first idle connection, the longest idle, was closed.
	idle[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Error("the longest-idle connection is still open")
	}
	if n := c.Open(); n > 4 {
		t.Errorf("%d connections open, want at most 4", n)
	}
}

// TestConnectionsRefuseWhenAllActive: a new connection is closed when
// every held one is busy.
func TestConnectionsRefuseWhenAllActive(t *testing.T) {
	release := make(chan struct{})
	var refused atomic.Int64
	c := NewConnections(2, func(reason string) {
		if reason == "refused" {
			refused.Add(1)
		}
	})
	addr := server(t, c, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { <-release }))
	defer close(release)
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Open() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := get(conn, bufio.NewReader(conn)); err == nil {
		t.Error("a third connection was served while two requests were active")
	}
	if refused.Load() != 1 {
		t.Errorf("refused %d, want 1", refused.Load())
	}
}
