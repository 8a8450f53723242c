package dnsclient

import "strings"

// unescapeTXT turns a character-string from miekg/dns's presentation form
// back into its bytes: "\DDD" is the byte of decimal DDD, "\X" is X.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if v, ok := decimalByte(s[i+1:]); ok {
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

// decimalByte reads three decimal digits at the start of s as a byte value.
func decimalByte(s string) (byte, bool) {
	if len(s) < 3 {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[:3]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}
