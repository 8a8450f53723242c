package smtpwire

import (
	"bufio"
	"strings"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// BenchmarkReadReply reads one EHLO-sized reply.
func BenchmarkReadReply(b *testing.B) {
	src := strings.NewReader(smtptest.PostfixEHLO)
	r := bufio.NewReaderSize(src, MaxLineBytes)
	b.ReportAllocs()
	b.SetBytes(int64(len(smtptest.PostfixEHLO)))
	for b.Loop() {
		src.Reset(smtptest.PostfixEHLO)
		r.Reset(src)
		if reply, err := ReadReply(r); err != nil || len(reply.Lines) != 11 {
			b.Fatalf("ReadReply: %v, %d lines", err, len(reply.Lines))
		}
	}
}

// BenchmarkParseEHLO turns an EHLO reply into extensions, as each EHLO of
// a probe does.
func BenchmarkParseEHLO(b *testing.B) {
	reply, err := ReadReply(bufio.NewReaderSize(strings.NewReader(smtptest.PostfixEHLO), MaxLineBytes))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ext := ParseEHLO(reply); !ext.Has("CHUNKING") {
			b.Fatal("CHUNKING not found")
		}
	}
}
