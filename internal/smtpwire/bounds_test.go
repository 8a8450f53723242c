package smtpwire

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// TestReplyReaderStaysBounded checks the cap that bounds memory directly:
// ReadReply never buffers more than MaxLineBytes of one line, nor keeps
// more than MaxReplyBytes of one reply.
func TestReplyReaderStaysBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input io.Reader
	}{
		{"endless line", io.MultiReader(strings.NewReader("250 "), neverEnding('x'))},
		{"endless reply", &repeatReader{line: []byte("250-x\r\n")}},
		{"fat lines", &repeatReader{line: []byte("250-" + strings.Repeat("y", MaxLineBytes-8) + "\r\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counted := &countingReader{r: tc.input}
			r := bufio.NewReaderSize(counted, MaxLineBytes)
			reply, err := ReadReply(r)
			if _, ok := err.(*ProtocolError); !ok {
				t.Fatalf("err = %v, want a protocol error", err)
			}
			text := 0
			for _, l := range reply.Lines {
				text += len(l)
			}
			if counted.n > MaxReplyBytes+MaxLineBytes || text > MaxReplyBytes || len(reply.Lines) > MaxReplyLines {
				t.Errorf("read %d bytes, kept %d bytes in %d lines: over the caps", counted.n, text, len(reply.Lines))
			}
		})
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
