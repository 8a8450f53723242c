package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startExporter runs the whole exporter until the test ends.
func startExporter(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, append(args, "--web.listen-address="+addr, "--log.level=error")) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exporter exited with %d", code)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return addr
		}
	}
	t.Fatalf("exporter did not listen on %s", addr)
	return ""
}

// TestWebConfigProtectsEveryEndpoint: with --web.config.file asking for
// basic auth, no endpoint of the exporter answers without credentials.
func TestWebConfigProtectsEveryEndpoint(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, fmt.Appendf(nil, "basic_auth_users:\n  prom: %s\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startExporter(t, "--web.config.file="+webConfig)

	for _, path := range []string{"/", "/metrics", "/probe?target=127.0.0.1:1", "/history", "/config", "/-/healthy", "/-/ready", "/-/reload"} {
		for _, tc := range []struct {
			user, password string
			want           int
		}{{"", "", http.StatusUnauthorized}, {"prom", "wrong", http.StatusUnauthorized}, {"prom", "s3cret", 0}} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case tc.want != 0 && resp.StatusCode != tc.want:
				t.Errorf("GET %s as %q/%q: %d, want %d", path, tc.user, tc.password, resp.StatusCode, tc.want)
			case tc.want == 0 && resp.StatusCode == http.StatusUnauthorized:
				t.Errorf("GET %s with the right credentials: 401", path)
			}
		}
	}
}

// TestRunServesEmbeddedConfig is the README's first command: no flags, a
// probe answers with the default module's three ports.
func TestRunServesEmbeddedConfig(t *testing.T) {
	addr := startExporter(t)
	resp, err := http.Get("http://" + addr + "/probe?target=127.0.0.1&module=default")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := make([]byte, 1<<20)
	n, _ := io.ReadFull(resp.Body, body)
	text := string(body[:n])
	for _, port := range []string{"25", "465", "587"} {
		if !strings.Contains(text, `probe_smtp_up{host="127.0.0.1",port="`+port+`"}`) {
			t.Errorf("no probe_smtp_up series for port %s in:\n%s", port, text)
		}
	}
}
