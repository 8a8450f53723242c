package collector

import (
	"fmt"
	"strings"
	"time"
)

// Caps on one endpoint's transcript: a hostile server cannot grow it past
// what the reply caps already allow, and a long session is cut, not lost.
const (
	maxTranscriptEvents = 2048
	maxTranscriptBytes  = 32 << 10
)

// Transcript is the debug record of one session: what each side said and
// when, relative to the session's start. Credentials never enter it.
// Events are kept as they come and formatted only when someone reads them
// (debug output, /history), so recording costs no formatting per probe.
type Transcript struct {
	start     time.Time
	events    []event
	bytes     int
	truncated bool
}

// event is one line said by the client ("C"), one reply from the server
// ("S", all its lines) or a note from the prober ("*").
type event struct {
	at    time.Duration
	who   string
	text  string
	reply Reply
}

// transcriptEvents is room for a STARTTLS session's events (11, 15 with AUTH), so
// that recording one does not regrow the slice.
const transcriptEvents = 16

func newTranscript(start time.Time) *Transcript {
	return &Transcript{start: start, events: make([]event, 0, transcriptEvents)}
}

func (t *Transcript) record(e event, size int) {
	if t.truncated {
		return
	}
	if len(t.events) >= maxTranscriptEvents || t.bytes+size > maxTranscriptBytes {
		t.truncated = true
		return
	}
	e.at = time.Since(t.start)
	t.bytes += size
	t.events = append(t.events, e)
}

// add records a line said by who: "C" (client) or "*" (a note).
func (t *Transcript) add(who, text string) { t.record(event{who: who, text: text}, len(text)) }

func (t *Transcript) notef(format string, args ...any) { t.add("*", fmt.Sprintf(format, args...)) }

// reply records a server reply.
func (t *Transcript) reply(r Reply) {
	size := 0
	for _, l := range r.Lines {
		size += len(l) + 4
	}
	t.record(event{who: "S", reply: r}, size)
}

// String formats the transcript, one line per line said.
func (t *Transcript) String() string {
	var b strings.Builder
	for _, e := range t.events {
		stamp := fmt.Sprintf("%9.3fms ", float64(e.at.Microseconds())/1000)
		if e.who != "S" {
			fmt.Fprintf(&b, "%s%s: %s\n", stamp, e.who, e.text)
			continue
		}
		for i, line := range e.reply.Lines {
			sep := '-'
			if i == len(e.reply.Lines)-1 {
				sep = ' '
			}
			fmt.Fprintf(&b, "%sS: %d%c%s\n", stamp, e.reply.Code, sep, line)
		}
	}
	if t.truncated {
		b.WriteString("… transcript truncated\n")
	}
	return b.String()
}
