package config

import (
	"strings"
	"testing"
)

// TestMaskedYAMLLoadsAgain: the masked configuration of a file using every
// key loads again with Parse, strictly, into the same modules, and holds no
// key the configuration refuses.
func TestMaskedYAMLLoadsAgain(t *testing.T) {
	c, err := Load("testdata/valid-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	shown, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(shown), "insecure_skip_verify") {
		t.Errorf("masked YAML holds insecure_skip_verify, which the configuration refuses:\n%s", shown)
	}
	again, err := Parse(shown, "")
	if err != nil {
		t.Fatalf("masked YAML does not load: %v\n%s", err, shown)
	}
	if got, want := strings.Join(again.ModuleNames(), " "), strings.Join(c.ModuleNames(), " "); got != want {
		t.Errorf("modules %q, want %q", got, want)
	}
	domains := again.Modules["domains"]
	if domains.Ports[1].TLSConfig == nil || domains.Ports[1].TLSConfig.ServerName != "smtps.example.com" || !domains.DANE || domains.ShareWindow.Seconds() != 30 {
		t.Errorf("module domains loads as %+v", domains)
	}
}

// TestMaskedModuleYAML: one module alone, username hidden, loads with Parse.
func TestMaskedModuleYAML(t *testing.T) {
	c, err := Load("testdata/valid-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	shown, err := MaskedModuleYAML("submission", c.Modules["submission"])
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(shown, "")
	if err != nil {
		t.Fatalf("does not load: %v\n%s", err, shown)
	}
	if names := again.ModuleNames(); len(names) != 1 || names[0] != "submission" {
		t.Errorf("modules %v, want [submission]", names)
	}
	if u := again.Modules["submission"].Auth.Username; u != Hidden {
		t.Errorf("username %q, want %q", u, Hidden)
	}
}
