package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// configWithModule is a valid configuration whose only module is name.
func configWithModule(name string) string {
	return "modules:\n  " + name + ":\n    timeout: 5s\n    ports:\n      - {port: 25, tls: starttls}\n"
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hasModule reports whether the running config has module name.
func hasModule(sc *config.SafeConfig, name string) bool {
	_, ok := sc.Get().Modules[name]
	return ok
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtp.yml")
	writeConfig(t, path, configWithModule("first"))
	reg := prometheus.NewRegistry()
	sc := config.NewSafeConfig(path, reg)
	if err := sc.Reload(); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	requests := startReloader(t.Context(), sc, slog.New(slog.NewTextHandler(&logs, nil)))
	handler := reloadHandler(requests)

	reloadGauge := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range families {
			if mf.GetName() == "smtp_exporter_config_last_reload_successful" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("smtp_exporter_config_last_reload_successful not registered")
		return 0
	}

	steps := []struct {
		name       string
		method     string
		file       string // written before the request; "" leaves the file, "-" removes it
		wantStatus int
		wantBody   []string
		wantModule string // present after the request
		gone       string // absent after the request
		wantGauge  float64
	}{
		{
			name: "GET is refused", method: http.MethodGet, file: configWithModule("unused"),
			wantStatus: http.StatusMethodNotAllowed, wantBody: []string{"POST"},
			wantModule: "first", gone: "unused", wantGauge: 1,
		},
		{
			name: "unknown key keeps the old config", method: http.MethodPost,
			file:       configWithModule("second") + "    bogus_key: 1\n",
			wantStatus: http.StatusInternalServerError, wantBody: []string{path, "bogus_key", "keeping the running one"},
			wantModule: "first", gone: "second", wantGauge: 0,
		},
		{
			name: "unparsable YAML keeps the old config", method: http.MethodPost, file: "modules: [\n",
			wantStatus: http.StatusInternalServerError, wantBody: []string{path},
			wantModule: "first", wantGauge: 0,
		},
		{
			name: "missing file keeps the old config", method: http.MethodPost, file: "-",
			wantStatus: http.StatusInternalServerError, wantBody: []string{"reading config", path},
			wantModule: "first", wantGauge: 0,
		},
		{
			name: "truncated file keeps the old config", method: http.MethodPost,
			file:       configWithModule("second")[:40],
			wantStatus: http.StatusInternalServerError, wantBody: []string{path, "keeping the running one"},
			wantModule: "first", gone: "second", wantGauge: 0,
		},
		{
			name: "missing CA file keeps the old config", method: http.MethodPost,
			file:       "modules:\n  second:\n    tls_config: {ca_file: /nonexistent/ca.pem}\n    ports: [{port: 25, tls: starttls}]\n",
			wantStatus: http.StatusInternalServerError, wantBody: []string{path, "/nonexistent/ca.pem"},
			wantModule: "first", gone: "second", wantGauge: 0,
		},
		{
			name: "missing password file keeps the old config", method: http.MethodPost,
			file:       "modules:\n  second:\n    auth: {username: u, password_file: /nonexistent/pw}\n    allowed_targets: [127.0.0.1]\n    ports: [{port: 587, tls: starttls}]\n",
			wantStatus: http.StatusInternalServerError, wantBody: []string{path, "auth.password_file", "/nonexistent/pw"},
			wantModule: "first", gone: "second", wantGauge: 0,
		},
		{
			name: "valid file is loaded", method: http.MethodPost, file: configWithModule("second"),
			wantStatus: http.StatusOK, wantBody: []string{"configuration reloaded"},
			wantModule: "second", gone: "first", wantGauge: 1,
		},
		{
			name: "PUT is refused", method: http.MethodPut, file: configWithModule("third"),
			wantStatus: http.StatusMethodNotAllowed, wantBody: []string{"POST"},
			wantModule: "second", gone: "third", wantGauge: 1,
		},
	}
	for _, step := range steps {
		// Sequential on purpose: each step builds on the running config.
		t.Run(step.name, func(t *testing.T) {
			switch step.file {
			case "":
			case "-":
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			default:
				writeConfig(t, path, step.file)
			}
			rec := httptest.NewRecorder()
			handler(rec, httptest.NewRequest(step.method, "/-/reload", nil))
			if rec.Code != step.wantStatus {
				t.Errorf("status %d, want %d; body %q", rec.Code, step.wantStatus, rec.Body)
			}
			for _, want := range step.wantBody {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body %q lacks %q", rec.Body, want)
				}
			}
			if step.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow header %q, want POST", rec.Header().Get("Allow"))
			}
			if !hasModule(sc, step.wantModule) {
				t.Errorf("running config lacks module %q", step.wantModule)
			}
			if step.gone != "" && hasModule(sc, step.gone) {
				t.Errorf("running config has module %q", step.gone)
			}
			if got := reloadGauge(); got != step.wantGauge {
				t.Errorf("smtp_exporter_config_last_reload_successful = %v, want %v", got, step.wantGauge)
			}
		})
	}
	for _, want := range []string{"level=ERROR", "reloading configuration", "/nonexistent/ca.pem", "/nonexistent/pw"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("reload log lacks %q:\n%s", want, logs.String())
		}
	}

	// The reload goroutine listens for SIGHUP too; it has registered for
	// it, since it already answered the POSTs above.
	t.Run("SIGHUP", func(t *testing.T) {
		writeConfig(t, path, configWithModule("hup"))
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for !hasModule(sc, "hup") {
			if time.Now().After(deadline) {
				t.Fatal("SIGHUP did not reload the config")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := reloadGauge(); got != 1 {
			t.Errorf("smtp_exporter_config_last_reload_successful = %v, want 1", got)
		}
	})
}

// lockedBuffer is a log sink the reload goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestReloadMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	sc := config.NewSafeConfig("", reg)
	if err := sc.Reload(); err != nil {
		t.Fatalf("embedded default config: %v", err)
	}
	for _, name := range []string{"smtp_exporter_config_last_reload_successful", "smtp_exporter_config_last_reload_success_timestamp_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series (%v), want 1", name, n, err)
		}
	}
	for _, module := range []string{"default", "mx", "submission"} {
		if !hasModule(sc, module) {
			t.Errorf("embedded default config lacks module %q", module)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yml"), filepath.Join(dir, "bad.yml")
	writeConfig(t, good, configWithModule("mx"))
	writeConfig(t, bad, configWithModule("mx")+"    bogus_key: 1\n")
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"valid file", []string{"--config.check", "--config.file", good}, 0},
		{"embedded default", []string{"--config.check"}, 0},
		{"invalid file", []string{"--config.check", "--config.file", bad}, 1},
		{"missing file", []string{"--config.check", "--config.file", filepath.Join(dir, "none.yml")}, 1},
		{"unknown flag", []string{"--no-such-flag"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(context.Background(), append(tt.args, "--log.level=error")); got != tt.want {
				t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

func TestHealthEndpoints(t *testing.T) {
	rec := httptest.NewRecorder()
	ok(rec, httptest.NewRequest(http.MethodGet, "/-/healthy", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "OK\n" {
		t.Errorf("status %d, body %q: want 200 OK", rec.Code, rec.Body)
	}
}

// TestReloadRequestGivesUpWithItsClient: a reload request that no reload
// loop takes (shutting down) returns when its client goes, instead of
// holding the server's shutdown forever.
func TestReloadRequestGivesUpWithItsClient(t *testing.T) {
	handler := reloadHandler(make(chan chan error)) // nobody reads it
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		handler(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodPost, "/-/reload", nil))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the reload handler is still waiting after its client left")
	}
}

// TestRunKeepsAHeapFloor: the running exporter paces its collector by
// internal/heapfloor (GOGC 400 while the live heap is small), unless GOGC
// is in the environment.
func TestRunKeepsAHeapFloor(t *testing.T) {
	for _, tt := range []struct {
		name, gogc, want string
	}{
		{"no GOGC", "", "go_gc_gogc_percent 400\n"},
		{"GOGC=100 set", "100", "go_gc_gogc_percent 100\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.gogc)
			if tt.gogc == "" {
				os.Unsetenv("GOGC") // t.Setenv restores it afterwards
			}
			addr := startExporter(t)
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), tt.want) {
				t.Errorf("/metrics lacks %q", strings.TrimSpace(tt.want))
			}
		})
	}
}
