package buildinfo

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestComplete(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-30T09:08:07Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	tests := []struct {
		name  string
		stamp Stamp
		info  *debug.BuildInfo
		want  Stamp
	}{
		{
			name:  "linker stamp kept",
			stamp: Stamp{Version: "0.1.0", Revision: "abc", Branch: "main", BuildUser: "ci@host", BuildDate: "20261130-09:08:07"},
			info:  &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs},
			want:  Stamp{Version: "0.1.0", Revision: "abc", Branch: "main", BuildUser: "ci@host", BuildDate: "20261130-09:08:07"},
		},
		{
			name: "go install of a release",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}},
			want: Stamp{Version: "0.2.0", Revision: unknown, Branch: unknown, BuildUser: unknown, BuildDate: unknown},
		},
		{
			name: "go install of a pseudo-version",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130090807-abcdef123456"}},
			want: Stamp{Version: "0.0.0-20261130090807-abcdef123456", Revision: "abcdef123456", Branch: unknown, BuildUser: unknown, BuildDate: "20261130-09:08:07"},
		},
		{
			name: "pseudo-version after a tag",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.1.1-0.20261130090807-abcdef123456+dirty"}},
			want: Stamp{Version: "0.1.1-0.20261130090807-abcdef123456+dirty", Revision: "abcdef123456", Branch: unknown, BuildUser: unknown, BuildDate: "20261130-09:08:07"},
		},
		{
			name: "build in a checkout",
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want: Stamp{Version: unknown, Revision: "0123456789abcdef0123456789abcdef01234567", Branch: unknown, BuildUser: unknown, BuildDate: "20261130-09:08:07"},
		},
		{
			name: "modified checkout",
			info: &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "feed"}, {Key: "vcs.modified", Value: "true"}}},
			want: Stamp{Version: unknown, Revision: "feed-modified", Branch: unknown, BuildUser: unknown, BuildDate: unknown},
		},
		{
			name: "no build information",
			want: Stamp{Version: unknown, Revision: unknown, Branch: unknown, BuildUser: unknown, BuildDate: unknown},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Complete(tt.stamp, tt.info); got != tt.want {
				t.Errorf("Complete() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestFillVersionInABinary builds testdata/stamp, which calls FillVersion
// and prints version.Info, once plain and once with the linker setting the
// version the way the Makefile does.
func TestFillVersionInABinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	src := "./testdata/stamp"
	plain := runBuilt(t, dir, src)
	if strings.Contains(plain, "=,") || strings.Contains(plain, "=)") || !strings.Contains(plain, "branch=unknown") {
		t.Errorf("without ldflags: %q, want every field filled", plain)
	}
	const pkg = "github.com/prometheus/common/version."
	stamped := runBuilt(t, dir, src, "-ldflags=-X "+pkg+"Version=1.2.3 -X "+pkg+"Branch=main -X "+pkg+"Revision=cafe -X "+pkg+"BuildDate=20260102-03:04:05")
	if want := "(version=1.2.3, branch=main, revision=cafe) 20260102-03:04:05"; stamped != want {
		t.Errorf("with ldflags: %q, want %q", stamped, want)
	}
}

func runBuilt(t *testing.T, dir, src string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(dir, "stamp")
	args := append([]string{"build", "-o", bin}, flags...)
	build := exec.Command("go", append(args, src)...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running the built program: %v", err)
	}
	return strings.TrimSpace(string(out))
}
