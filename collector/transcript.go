package collector

import (
	"fmt"
	"strings"
	"time"
)

// maxTranscriptBytes caps one endpoint's transcript.
const maxTranscriptBytes = 64 << 10

// Transcript is the debug record of one session: what each side said and
// when, relative to the session's start. Credentials never enter it.
type Transcript struct {
	start     time.Time
	b         strings.Builder
	truncated bool
}

func newTranscript(start time.Time) *Transcript { return &Transcript{start: start} }

// add records one event; who is "C" (client), "S" (server) or "*" (a note).
func (t *Transcript) add(who, text string) {
	if t.truncated {
		return
	}
	line := fmt.Sprintf("%9.3fms %s: %s\n", float64(time.Since(t.start).Microseconds())/1000, who, text)
	if t.b.Len()+len(line) > maxTranscriptBytes {
		t.truncated = true
		t.b.WriteString("… transcript truncated\n")
		return
	}
	t.b.WriteString(line)
}

func (t *Transcript) notef(format string, args ...any) { t.add("*", fmt.Sprintf(format, args...)) }

func (t *Transcript) reply(r Reply) {
	for i, line := range r.Lines {
		sep := "-"
		if i == len(r.Lines)-1 {
			sep = " "
		}
		t.add("S", fmt.Sprintf("%d%s%s", r.Code, sep, line))
	}
}

// String returns the transcript text.
func (t *Transcript) String() string { return t.b.String() }
