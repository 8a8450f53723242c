package probe

import (
	"fmt"
	"strings"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
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
	reply smtpwire.Reply
}

// transcriptEvents is room for a STARTTLS session's events (11, 15 with AUTH), so
// that recording one does not regrow the slice.
const transcriptEvents = 16

// NewTranscript starts an empty transcript; events are timed from start.
func NewTranscript(start time.Time) *Transcript {
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

// Sent records a line the client said, credentials already masked: the
// transcript is the session's smtpwire.Recorder.
func (t *Transcript) Sent(line string) { t.add("C", line) }

// Received records a server reply.
func (t *Transcript) Received(r smtpwire.Reply) {
	size := 0
	for _, l := range r.Lines {
		size += len(l) + 4
	}
	t.record(event{who: "S", reply: r}, size)
}

// Footprint estimates the bytes the transcript holds: its text and a fixed
// cost per event.
func (t *Transcript) Footprint() int { return t.bytes + len(t.events)*eventOverhead }

// eventOverhead approximates an event's fixed cost, in bytes.
const eventOverhead = 48

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
