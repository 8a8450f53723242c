// Package smtpwire speaks SMTP on the wire: it reads replies within caps,
// parses EHLO extensions, and sends commands, AUTH exchanges included,
// with one deadline for the whole session. It uses the standard library only.
package smtpwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds on what a server may send in one reply. RFC 5321 allows 512 octets
// a line; MaxLineBytes, line ending included, is accepted so that lax
// servers still parse. MaxReplyLines and MaxReplyBytes bound a whole reply.
const (
	MaxLineBytes  = 4096
	MaxReplyLines = 1000
	MaxReplyBytes = 64 << 10
	// BufferBytes is a client's read buffer; longer lines are gathered up
	// to MaxLineBytes.
	BufferBytes = 1024
)

// Reply is one complete SMTP reply: a code and the text of each line.
type Reply struct {
	// Code is the three-digit reply code.
	Code int
	// Lines holds each line's text without the code and separator.
	Lines []string
}

// EnhancedCode returns the RFC 3463 enhanced status code that starts the
// first line ("5.7.8"), or "" when there is none.
func (r Reply) EnhancedCode() string {
	if len(r.Lines) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(r.Lines[0], " ")
	parts := strings.Split(first, ".")
	if len(parts) != 3 || first[0] < '2' || first[0] > '5' || parts[0] != first[:1] {
		return ""
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return first
}

// ProtocolError says the server did not speak SMTP, or spoke too much of it.
type ProtocolError struct {
	// Msg describes what was wrong.
	Msg string
}

func (e *ProtocolError) Error() string { return "protocol error: " + e.Msg }

func protocolErrorf(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// ReplyError is a well-formed reply with a code the prober did not want.
type ReplyError struct {
	// Command is what was sent ("" for the greeting).
	Command string
	// Reply is what came back.
	Reply Reply
}

func (e *ReplyError) Error() string {
	what := "greeting"
	if e.Command != "" {
		what = "reply to " + e.Command
	}
	return fmt.Sprintf("unexpected %s: %d %s", what, e.Reply.Code, firstLine(e.Reply))
}

func firstLine(r Reply) string {
	if len(r.Lines) == 0 {
		return ""
	}
	return r.Lines[0]
}

// ReadReply reads one complete reply, multi-line or not, within the bounds
// above.
func ReadReply(r *bufio.Reader) (Reply, error) {
	var reply Reply
	total := 0
	for {
		line, err := readLine(r)
		if err != nil {
			return reply, err
		}
		total += len(line) + 2
		if total > MaxReplyBytes {
			return reply, protocolErrorf("reply longer than %d bytes", MaxReplyBytes)
		}
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return reply, err
		}
		if reply.Lines != nil && code != reply.Code {
			return reply, protocolErrorf("reply code changed from %d to %d inside a multi-line reply", reply.Code, code)
		}
		reply.Code = code
		reply.Lines = append(reply.Lines, text)
		if last {
			return reply, nil
		}
		if len(reply.Lines) >= MaxReplyLines {
			return reply, protocolErrorf("reply longer than %d lines", MaxReplyLines)
		}
	}
}

// readLine returns one line without its CRLF (a bare LF is tolerated). A
// line may be longer than r's buffer, up to MaxLineBytes with its ending:
// sessions keep a small buffer, as most lines are short.
func readLine(r *bufio.Reader) (string, error) {
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(long)+len(chunk) > MaxLineBytes {
			return "", protocolErrorf("reply line longer than %d bytes", MaxLineBytes)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, chunk...)
			continue
		case errors.Is(err, io.EOF) && len(long)+len(chunk) > 0:
			return "", fmt.Errorf("connection closed inside a reply line: %w", io.ErrUnexpectedEOF)
		case err != nil:
			return "", err
		}
		if long != nil {
			chunk = append(long, chunk...)
		}
		return string(bytes.TrimSuffix(chunk[:len(chunk)-1], []byte{'\r'})), nil
	}
}

// parseReplyLine splits "250-text" into its code, whether it is the last line
// of the reply, and its text.
func parseReplyLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || !IsDigit(line[1]) || !IsDigit(line[2]) {
		return 0, false, "", protocolErrorf("not an SMTP reply line: %q", truncate(line, 64))
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, "", protocolErrorf("not an SMTP reply line: %q", truncate(line, 64))
}

// IsDigit reports whether b is an ASCII digit.
func IsDigit(b byte) bool { return b >= '0' && b <= '9' }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
