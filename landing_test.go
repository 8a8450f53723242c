package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// labConfig writes a config whose only module, lab, probes port 1 (where
// nothing listens) of loopback without TLS.
func labConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "smtp.yml")
	writeConfig(t, path, "modules:\n  lab:\n    timeout: 2s\n    ports: [{port: 1, tls: none}]\n")
	return path
}

var (
	hrefs      = regexp.MustCompile(`href="([^"]*)"`)
	formAction = regexp.MustCompile(`<form action="([^"]*)"`)
)

// TestLandingPageLinksWork fetches / from the running exporter, follows
// every link on it and submits its form: each answers 200.
func TestLandingPageLinksWork(t *testing.T) {
	addr := startExporter(t, "--config.file="+labConfig(t))
	status, page := get(t, "http://"+addr+"/")
	if status != http.StatusOK {
		t.Fatalf("/ answered %d", status)
	}
	links := hrefs.FindAllStringSubmatch(page, -1)
	if len(links) < 5 {
		t.Fatalf("the landing page has %d links, want at least 5:\n%s", len(links), page)
	}
	for _, link := range links {
		target, err := url.Parse("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		ref, err := target.Parse(link[1])
		if err != nil {
			t.Fatalf("link %q: %v", link[1], err)
		}
		if status, body := get(t, ref.String()); status != http.StatusOK {
			t.Errorf("link %q (%s) answered %d: %.200s", link[1], ref, status, body)
		}
	}
	if strings.Contains(page, "debug/pprof") {
		t.Error("the landing page links to pprof, which the exporter does not serve")
	}
	action := formAction.FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no probe form on the landing page:\n%s", page)
	}
	form := url.Values{"target": {"127.0.0.1:1"}, "module": {"lab"}, "debug": {"true"}}
	if status, body := get(t, "http://"+addr+"/"+strings.TrimPrefix(action[1], "/")+"?"+form.Encode()); status != http.StatusOK || !strings.Contains(body, "refused") {
		t.Errorf("the probe form answered %d, want 200 with a refused connection:\n%.500s", status, body)
	}
}

// TestLandingPageListsModules: the page lists every module in force with
// its ports and where it comes from, after a reload too.
func TestLandingPageListsModules(t *testing.T) {
	path := labConfig(t)
	addr := startExporter(t, "--config.file="+path)
	_, page := get(t, "http://"+addr+"/")
	for _, want := range []string{
		"<td>lab</td><td>1 none</td><td>host</td><td>configuration file</td>",
		"<td>default</td><td>25 starttls, 465 implicit, 587 starttls</td><td>host</td><td>shipped</td>",
		"<td>mx</td>", "<td>submission</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	writeConfig(t, path, "modules:\n  default:\n    ports: [{port: 2525, tls: none}]\n  <b>:\n    ports: [{port: 25, tls: starttls}]\n")
	resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, page = get(t, "http://"+addr+"/")
	if !strings.Contains(page, "<td>default</td><td>2525 none</td><td>host</td><td>configuration file</td>") {
		t.Error("after a reload that redefines default, the page must list the file's default")
	}
	if strings.Contains(page, "<td>lab</td>") || !strings.Contains(page, "<td>&lt;b&gt;</td>") {
		t.Error("after a reload the page must list the new modules, names escaped")
	}
}

// TestProbeWithConfigFile: with --config.file, a probe without module uses
// the shipped default, and an unknown module's 400 lists the modules.
func TestProbeWithConfigFile(t *testing.T) {
	addr := startExporter(t, "--config.file="+labConfig(t))
	if status, body := get(t, "http://"+addr+"/probe?target=127.0.0.1:1"); status != http.StatusOK || !strings.Contains(body, "probe_success 0") {
		t.Errorf("probe without module: %d, want 200 with probe_success 0:\n%.300s", status, body)
	}
	status, body := get(t, "http://"+addr+"/probe?target=127.0.0.1:1&module=nope")
	if want := `unknown module "nope"; the modules are default, lab, mx, submission`; status != http.StatusBadRequest || strings.TrimSpace(body) != want {
		t.Errorf("unknown module: %d %q, want 400 %q", status, body, want)
	}
}

// TestConfigPage: /config shows the configuration in force as YAML that
// loads again, with the password file's path and never the password or the
// username.
func TestConfigPage(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("correct-horse-battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "smtp.yml")
	writeConfig(t, path, "modules:\n  submit:\n    auth: {username: probe@example.org, password_file: password}\n"+
		"    allowed_targets: [192.0.2.25]\n    ports: [{port: 587, tls: starttls, expect: {require_tls: true}}]\n")
	addr := startExporter(t, "--config.file="+path)
	status, body := get(t, "http://"+addr+"/config")
	if status != http.StatusOK {
		t.Fatalf("/config answered %d", status)
	}
	for _, secret := range []string{"correct-horse-battery", "probe@example.org"} {
		if strings.Contains(body, secret) {
			t.Errorf("/config shows %q:\n%s", secret, body)
		}
	}
	for _, want := range []string{"username: " + config.Hidden, "password_file: " + pwFile, "submit:", "default:", "192.0.2.25",
		"# Shipped modules in force (the file defines none of these names): default, mx, submission\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("/config lacks %q:\n%s", want, body)
		}
	}
	shown, err := config.Parse([]byte(body), dir)
	if err != nil {
		t.Fatalf("/config does not load as a configuration: %v", err)
	}
	if got := shown.ModuleNames(); strings.Join(got, " ") != "default mx submission submit" {
		t.Errorf("/config modules = %v", got)
	}

	writeConfig(t, path, configWithModule("second"))
	resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, body := get(t, "http://"+addr+"/config"); !strings.Contains(body, "second:") || strings.Contains(body, "submit:") {
		t.Errorf("/config after reload:\n%s", body)
	}
}

// TestConfigCheckReportsEveryProblem: --config.check logs each problem of
// the file on a line of its own, with its line number.
func TestConfigCheckReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yml")
	writeConfig(t, path, "modules:\n  a:\n    timeout: 0s\n    ports: [{port: 25, tls: ssl}]\n  b:\n    ports: [{port: 2525, tls: none, expect: {verify_certificate: true}}]\n")
	var logs strings.Builder
	if code := checkConfig(path, slog.New(slog.NewTextHandler(&logs, nil))); code != 1 {
		t.Errorf("checkConfig() = %d, want 1", code)
	}
	for _, want := range []string{
		path + `:3: module \"a\": timeout must be positive`,
		path + `:4: module \"a\": port 25: tls must be starttls, implicit or none`,
		path + `:6: module \"b\": port 2525: verify_certificate applies to TLS sessions`,
		"problems=3",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("--config.check output lacks %q:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "invalid configuration"); n != 3 {
		t.Errorf("%d problem lines, want 3:\n%s", n, logs.String())
	}
}
