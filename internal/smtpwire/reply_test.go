package smtpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// replyReader is the reader a session reads replies from.
func replyReader(s string) *bufio.Reader {
	return bufio.NewReaderSize(strings.NewReader(s), BufferBytes)
}

// replyLines builds a reply of n lines with code, each line's text text.
func replyLines(code string, n int, text string) string {
	var b strings.Builder
	for i := 1; i < n; i++ {
		b.WriteString(code + "-" + text + "\r\n")
	}
	b.WriteString(code + " " + text + "\r\n")
	return b.String()
}

func TestReadReply(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes-6) // "250 " + long + CRLF = 4096 bytes
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"single line", "220 mail.example.com ESMTP Postfix\r\n", Reply{220, []string{"mail.example.com ESMTP Postfix"}}},
		{"multi-line", "250-mail.example.com\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n",
			Reply{250, []string{"mail.example.com", "PIPELINING", "SIZE 10240000"}}},
		{"bare code", "250\r\n", Reply{250, []string{""}}},
		{"bare code ends multi-line", "250-first\r\n250\r\n", Reply{250, []string{"first", ""}}},
		{"empty texts", "250-\r\n250 \r\n", Reply{250, []string{"", ""}}},
		{"LF only", "250-a\n250 b\n", Reply{250, []string{"a", "b"}}},
		{"mixed endings", "250-a\r\n250-b\n250 c\r\n", Reply{250, []string{"a", "b", "c"}}},
		{"text keeps its spaces", "250  two spaces \r\n", Reply{250, []string{" two spaces "}}},
		{"only one CR is stripped", "250 a\r\r\n", Reply{250, []string{"a\r"}}},
		{"CR inside text", "250 a\rb\r\n", Reply{250, []string{"a\rb"}}},
		{"5xx", "554 5.7.1 Relay access denied\r\n", Reply{554, []string{"5.7.1 Relay access denied"}}},
		{"4xx", "421 4.3.2 Shutting down\r\n", Reply{421, []string{"4.3.2 Shutting down"}}},
		{"3xx", "334 VXNlcm5hbWU6\r\n", Reply{334, []string{"VXNlcm5hbWU6"}}},
		{"longest line", "250 " + long + "\r\n", Reply{250, []string{long}}},
		{"longest LF line", "250 " + long + "x\n", Reply{250, []string{long + "x"}}},
		{"1000 lines", replyLines("250", MaxReplyLines, "x"), Reply{250, slicesRepeat("x", MaxReplyLines)}},
		// 642 lines of 100 bytes plus CRLF: 65484 bytes, just under 64 KiB.
		{"just under 64 KiB", replyLines("250", 642, strings.Repeat("y", 96)), Reply{250, slicesRepeat(strings.Repeat("y", 96), 642)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := replyReader(tt.in + "221 next\r\n")
			got, err := ReadReply(r)
			if err != nil {
				t.Fatalf("ReadReply(%q) error: %v", truncate(tt.in, 80), err)
			}
			if got.Code != tt.want.Code || !reflect.DeepEqual(got.Lines, tt.want.Lines) {
				t.Errorf("ReadReply(%q) = %d %q, want %d %q", truncate(tt.in, 80), got.Code, truncate(strings.Join(got.Lines, "|"), 200), tt.want.Code, truncate(strings.Join(tt.want.Lines, "|"), 200))
			}
			// Exactly one reply is consumed: the next one is intact.
			next, err := ReadReply(r)
			if err != nil || next.Code != 221 || !reflect.DeepEqual(next.Lines, []string{"next"}) {
				t.Errorf("reply after %q = %+v, %v; want 221 next", truncate(tt.in, 80), next, err)
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestReadReplyProtocolErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		msg  string // ProtocolError.Msg
	}{
		{"code changes", "250-a\r\n251 b\r\n", "reply code changed from 250 to 251 inside a multi-line reply"},
		{"class changes", "250-a\r\n550 b\r\n", "reply code changed from 250 to 550 inside a multi-line reply"},
		{"prose", "hello there\r\n", `not an SMTP reply line: "hello there"`},
		{"HTTP", "HTTP/1.1 400 Bad Request\r\n", `not an SMTP reply line: "HTTP/1.1 400 Bad Request"`},
		{"POP3", "+OK POP3 ready\r\n", `not an SMTP reply line: "+OK POP3 ready"`},
		{"SSH", "SSH-2.0-OpenSSH_9.6\r\n", `not an SMTP reply line: "SSH-2.0-OpenSSH_9.6"`},
		{"binary", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\n", `not an SMTP reply line: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1"`},
		{"NUL", "\x00\x00\x00\r\n", `not an SMTP reply line: "\x00\x00\x00"`},
		{"empty line", "\r\n", `not an SMTP reply line: ""`},
		{"two digits", "25\r\n", `not an SMTP reply line: "25"`},
		{"four digits", "2500 x\r\n", `not an SMTP reply line: "2500 x"`},
		{"bad separator", "250_x\r\n", `not an SMTP reply line: "250_x"`},
		{"tab separator", "250\tx\r\n", `not an SMTP reply line: "250\tx"`},
		{"leading space", " 250 x\r\n", `not an SMTP reply line: " 250 x"`},
		{"letter in code", "2a0 x\r\n", `not an SMTP reply line: "2a0 x"`},
		{"code 1xx", "100 continue\r\n", `not an SMTP reply line: "100 continue"`},
		{"code 199", "199 x\r\n", `not an SMTP reply line: "199 x"`},
		{"code 6xx", "600 x\r\n", `not an SMTP reply line: "600 x"`},
		{"code 0xx", "099 x\r\n", `not an SMTP reply line: "099 x"`},
		{"garbage after first line", "250-a\r\nhello\r\n", `not an SMTP reply line: "hello"`},
		{"long garbage is cut", strings.Repeat("z", 100) + "\r\n", `not an SMTP reply line: "` + strings.Repeat("z", 64) + `…"`},
		{"line over 4096", "250 " + strings.Repeat("x", MaxLineBytes-5) + "\r\n", "reply line longer than 4096 bytes"},
		{"line over 4096 without end", "250 " + strings.Repeat("x", 10000), "reply line longer than 4096 bytes"},
		{"later line over 4096", "250-ok\r\n250 " + strings.Repeat("x", MaxLineBytes) + "\r\n", "reply line longer than 4096 bytes"},
		{"1001 lines", replyLines("250", MaxReplyLines+1, "x"), "reply longer than 1000 lines"},
		{"endless continuation", strings.Repeat("250-x\r\n", 5000), "reply longer than 1000 lines"},
		{"over 64 KiB of short lines", replyLines("250", 643, strings.Repeat("y", 96)), "reply longer than 65536 bytes"},
		{"64 KiB of long lines", replyLines("250", 20, strings.Repeat("y", 4000)), "reply longer than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadReply(replyReader(tt.in))
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("ReadReply(%q) error = %v (%T), want *ProtocolError", truncate(tt.in, 80), err, err)
			}
			if pe.Msg != tt.msg {
				t.Errorf("ReadReply(%q) error = %q, want %q", truncate(tt.in, 80), pe.Msg, tt.msg)
			}
			if want := "protocol error: " + tt.msg; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestReadReplyEOF(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"nothing", "", io.EOF},
		{"mid first line", "220 mail.exa", io.ErrUnexpectedEOF},
		{"mid code", "22", io.ErrUnexpectedEOF},
		{"after CR", "220 ready\r", io.ErrUnexpectedEOF},
		{"mid later line", "250-a\r\n250 b", io.ErrUnexpectedEOF},
		{"between lines", "250-a\r\n250-b\r\n", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadReply(replyReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadReply(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			var pe *ProtocolError
			if errors.As(err, &pe) {
				t.Errorf("ReadReply(%q) error %v is a ProtocolError; a closed connection is not", tt.in, err)
			}
			if tt.want == io.ErrUnexpectedEOF && errors.Is(err, io.EOF) {
				t.Errorf("ReadReply(%q) error %v also matches io.EOF", tt.in, err)
			}
		})
	}
}

// TestReadReplySequence reads a whole dialogue's worth of replies from one
// buffer, as a session does.
func TestReadReplySequence(t *testing.T) {
	r := replyReader("220 hi\r\n250-mx\r\n250 STARTTLS\r\n220 2.0.0 go ahead\r\n221 2.0.0 bye\r\n")
	want := []Reply{
		{220, []string{"hi"}},
		{250, []string{"mx", "STARTTLS"}},
		{220, []string{"2.0.0 go ahead"}},
		{221, []string{"2.0.0 bye"}},
	}
	for i, w := range want {
		got, err := ReadReply(r)
		if err != nil || got.Code != w.Code || !reflect.DeepEqual(got.Lines, w.Lines) {
			t.Fatalf("reply %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := ReadReply(r); err != io.EOF {
		t.Errorf("after the last reply: %v, want io.EOF", err)
	}
}

func TestReplyEnhancedCode(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
	}{
		{[]string{"2.0.0 Ok"}, "2.0.0"},
		{[]string{"5.7.8 Authentication credentials invalid"}, "5.7.8"},
		{[]string{"4.4.2 Timeout"}, "4.4.2"},
		{[]string{"5.1.10 Null MX"}, "5.1.10"},
		{[]string{"5.123.456 x"}, "5.123.456"},
		{[]string{"2.0.0"}, "2.0.0"},
		{[]string{"2.0.0 first", "5.0.0 second"}, "2.0.0"},
		{[]string{"Ok", "2.0.0 not first"}, ""},
		{[]string{"Ok"}, ""},
		{[]string{""}, ""},
		{nil, ""},
		{[]string{"1.0.0 x"}, ""},
		{[]string{"6.0.0 x"}, ""},
		{[]string{"0.0.0 x"}, ""},
		{[]string{"22.0.0 x"}, ""},
		{[]string{"2.0 x"}, ""},
		{[]string{"2.0.0.0 x"}, ""},
		{[]string{"2..0 x"}, ""},
		{[]string{"2.0. x"}, ""},
		{[]string{"2.a.0 x"}, ""},
		{[]string{"2.1234.0 x"}, ""},
		{[]string{"2.0.1234 x"}, ""},
		{[]string{"2.+1.0 x"}, ""},
		{[]string{"2.-1.0 x"}, ""},
		{[]string{"2.0.+0 x"}, ""},
		{[]string{"2.0.0,x"}, ""},
		{[]string{" 2.0.0 x"}, ""},
		{[]string{"mail.example.com ESMTP"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.lines, "|"), func(t *testing.T) {
			if got := (Reply{Code: 250, Lines: tt.lines}).EnhancedCode(); got != tt.want {
				t.Errorf("EnhancedCode(%q) = %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

func TestReplyError(t *testing.T) {
	tests := []struct {
		err  ReplyError
		want string
	}{
		{ReplyError{Reply: Reply{421, []string{"4.3.2 busy", "more"}}}, "unexpected greeting: 421 4.3.2 busy"},
		{ReplyError{Command: "STARTTLS", Reply: Reply{454, []string{"4.7.0 TLS not available"}}}, "unexpected reply to STARTTLS: 454 4.7.0 TLS not available"},
		{ReplyError{Command: "EHLO", Reply: Reply{Code: 502}}, "unexpected reply to EHLO: 502 "},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, seed := range []string{
		"", "220 ready\r\n", "250-a\r\n250 b\r\n", "250\r\n", "250-a\n250 b\n",
		"250-a\r\n251 b\r\n", "hello\r\n", "\x00\xff\r\n", "220 partial",
		"250-mail.example.com\r\n250-AUTH PLAIN LOGIN\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n",
		"2.0.0\r\n", "100 x\r\n", "600 x\r\n", "554 5.7.1 no\r\n221 bye\r\n",
		"250 " + strings.Repeat("x", MaxLineBytes) + "\r\n",
		strings.Repeat("250-x\r\n", MaxReplyLines+1),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), MaxLineBytes)
		for range 100 {
			reply, err := ReadReply(r)
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadReply error %v (%T) is neither a ProtocolError nor EOF", err, err)
				}
			}
			if len(reply.Lines) > MaxReplyLines {
				t.Fatalf("reply of %d lines", len(reply.Lines))
			}
			total := 0
			for _, l := range reply.Lines {
				if len(l) > MaxLineBytes {
					t.Fatalf("reply line of %d bytes", len(l))
				}
				total += len(l)
			}
			if total > MaxReplyBytes {
				t.Fatalf("reply of %d bytes", total)
			}
			if err != nil {
				return
			}
			if reply.Code < 200 || reply.Code > 599 || len(reply.Lines) == 0 {
				t.Fatalf("reply %+v: code outside 200–599 or no lines", reply)
			}
			if ec := reply.EnhancedCode(); ec != "" && !strings.HasPrefix(reply.Lines[0], ec) {
				t.Fatalf("EnhancedCode %q does not start %q", ec, reply.Lines[0])
			}
			ParseEHLO(reply)
		}
	})
}
