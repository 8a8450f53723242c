// Package buildinfo completes the build stamp of prometheus/common/version
// from the Go toolchain's build information, for binaries built without the
// Makefile's -ldflags (go install …@latest, go run .).
package buildinfo

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// unknown stands for a value neither the linker nor the toolchain recorded.
const unknown = "unknown"

// dateLayout is the build date layout of Prometheus projects (promu).
const dateLayout = "20060102-15:04:05"

// Stamp is the build stamp --version and smtp_exporter_build_info show.
type Stamp struct {
	Version   string
	Revision  string
	Branch    string
	BuildUser string
	BuildDate string
}

// Complete returns s with every empty field filled from info: the module
// version, the VCS revision and commit time the go command recorded, or
// those a pseudo-version carries; "unknown" where nothing says. Fields the
// linker set are kept. info may be nil.
func Complete(s Stamp, info *debug.BuildInfo) Stamp {
	facts := readFacts(info)
	s.Version = firstNonEmpty(s.Version, facts.version, unknown)
	s.Revision = firstNonEmpty(s.Revision, facts.revision, unknown)
	s.Branch = firstNonEmpty(s.Branch, unknown)
	s.BuildUser = firstNonEmpty(s.BuildUser, unknown)
	s.BuildDate = firstNonEmpty(s.BuildDate, facts.date, unknown)
	return s
}

// FillVersion completes prometheus/common/version's variables (see
// Complete). Call it once, before anything reads them.
func FillVersion() {
	info, _ := debug.ReadBuildInfo()
	s := Complete(Stamp{
		Version:   version.Version,
		Revision:  version.Revision,
		Branch:    version.Branch,
		BuildUser: version.BuildUser,
		BuildDate: version.BuildDate,
	}, info)
	version.Version = s.Version
	version.Revision = s.Revision
	version.Branch = s.Branch
	version.BuildUser = s.BuildUser
	version.BuildDate = s.BuildDate
}

// facts are what the go command recorded about a build.
type facts struct {
	version, revision, date string
}

func readFacts(info *debug.BuildInfo) facts {
	if info == nil {
		return facts{}
	}
	var f facts
	mod := info.Main.Version
	if mod != "" && mod != "(devel)" {
		f.version = strings.TrimPrefix(mod, "v")
		f.revision, f.date = pseudoVersionFacts(mod)
	}
	revision, date, modified := vcsFacts(info.Settings)
	if revision != "" {
		f.revision = revision
		if modified {
			f.revision += "-modified"
		}
	}
	if date != "" {
		f.date = date
	}
	return f
}

// vcsFacts reads the vcs.* settings the go command stamps when it builds
// inside a checkout.
func vcsFacts(settings []debug.BuildSetting) (revision, date string, modified bool) {
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			date = formatDate(time.RFC3339, s.Value)
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return revision, date, modified
}

// pseudoVersionFacts returns the revision and commit time a pseudo-version
// (v0.0.0-20250102150405-abcdef123456, with an optional +dirty) names; empty
// strings for a release version.
func pseudoVersionFacts(v string) (revision, date string) {
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, "-")
	if len(parts) < 3 {
		return "", ""
	}
	hash := parts[len(parts)-1]
	stamp := parts[len(parts)-2]
	if i := strings.LastIndexByte(stamp, '.'); i >= 0 {
		stamp = stamp[i+1:] // vX.Y.(Z+1)-0.yyyymmddhhmmss-hash
	}
	date = formatDate("20060102150405", stamp)
	if date == "" || len(hash) != 12 {
		return "", ""
	}
	return hash, date
}

// formatDate re-formats value, given in layout, in dateLayout (UTC); empty
// if value does not parse.
func formatDate(layout, value string) string {
	t, err := time.Parse(layout, value)
	if err != nil {
		return ""
	}
	return t.UTC().Format(dateLayout)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
