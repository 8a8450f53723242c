package main

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// TestExampleConfigsCheck: every exporter config in examples/ passes
// --config.check as shipped, and the main example shows what it promises.
func TestExampleConfigsCheck(t *testing.T) {
	files, err := filepath.Glob("examples/smtp_exporter*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no exporter configs in examples/ (%v)", err)
	}
	for _, f := range files {
		var logs strings.Builder
		if code := checkConfig(f, slog.New(slog.NewTextHandler(&logs, nil))); code != 0 {
			t.Errorf("--config.check %s = %d:\n%s", f, code, logs.String())
		}
	}
	c, err := config.Load("examples/smtp_exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	auth := c.Modules["submission_auth"]
	if auth == nil || !auth.Auth.Enabled() || len(auth.AllowedTargets) == 0 || auth.Auth.PasswordFile != "examples/smtp-probe.password" {
		t.Errorf("submission_auth = %+v, want AUTH with a password file and the module's allowed_targets", auth)
	}
	if m := c.Modules["domain"]; m == nil || m.Targets != config.TargetsMX {
		t.Error("the example needs a targets: mx module")
	}
	if m := c.Modules["postscreen"]; m == nil || m.TLSConfig.CAFile != "examples/lab-ca.pem" || m.Timeout.Seconds() < 10 {
		t.Error("the postscreen module needs the lab CA and a timeout past postscreen's greet wait")
	}
}
