package config

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem of a configuration file and where it is.
type Error struct {
	// File is the configuration file; empty when parsed from memory.
	File string
	// Line is the line at fault, counted from 1; 0 when unknown.
	Line int
	// Module names the module the problem is in; empty outside modules.
	Module string
	// Port is the port entry the problem is in; 0 outside port entries.
	Port int
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "file:line: module "m": port 25: message",
// leaving out the parts it does not have.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Module != "" {
		fmt.Fprintf(&b, "module %q: ", e.Module)
	}
	if e.Port != 0 {
		fmt.Fprintf(&b, "port %d: ", e.Port)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one configuration, in line order.
type ErrorList []*Error

// Error puts one problem on each line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As finds an *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sorted orders the problems by line (problems without a line last) and
// drops repeats: an anchor's problem is found again at each alias.
func (l ErrorList) sorted() ErrorList {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Compare(lineOrder(a.Line), lineOrder(b.Line))
	})
	return slices.CompactFunc(l, func(a, b *Error) bool { return *a == *b })
}

// lineOrder sorts line 0 (unknown) after every real line.
func lineOrder(line int) int {
	if line == 0 {
		return int(^uint(0) >> 1)
	}
	return line
}

// inFile names file in every problem.
func (l ErrorList) inFile(file string) ErrorList {
	for _, e := range l {
		e.File = file
	}
	return l
}

// location locates a problem: the module and port it concerns and the keys
// from the document's root to the value at fault (a sequence index as its
// decimal text).
type location struct {
	module string
	port   int
	keys   []string
}

// key is the location of keys below l.
func (l location) key(keys ...string) location {
	l.keys = append(slices.Clip(l.keys), keys...)
	return l
}

// portEntry is the location of the i-th port entry, port number port.
func (l location) portEntry(i, port int) location {
	p := l.key("ports", strconv.Itoa(i))
	p.port = port
	return p
}

// problem is a problem found where l points.
func (l location) problem(format string, args ...any) problem {
	return problem{at: l, msg: fmt.Sprintf(format, args...)}
}

// problem is a validation error before it has a line.
type problem struct {
	at  location
	msg string
}

// syntaxError turns the parser's error ("yaml: line 4: did not find …")
// into an Error with its line.
func syntaxError(err error) *Error {
	return lineError(strings.TrimPrefix(err.Error(), "yaml: "))
}

var (
	lineNumber     = regexp.MustCompile(`^line (\d+): `)
	yamlTypeError  = regexp.MustCompile("cannot unmarshal !!(\\w+) (`[^`]*` )?into (\\S+)")
	yamlFieldError = regexp.MustCompile(`field (\S+) not found in type \S+`)
)

// lineError splits "line N: message" into an Error.
func lineError(msg string) *Error {
	e := &Error{Msg: msg}
	if m := lineNumber.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = msg[len(m[0]):]
	}
	return e
}

// decodeErrors turns the decoder's error into one Error per problem, with
// Go type names put in words.
func decodeErrors(err error) ErrorList {
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		return ErrorList{lineError(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	var list ErrorList
	for _, msg := range typeErr.Errors {
		msg = yamlFieldError.ReplaceAllString(msg, "unknown field $1")
		list = append(list, lineError(yamlTypeError.ReplaceAllStringFunc(msg, describeTypeError)))
	}
	return list
}

// yamlKinds and goKinds name YAML node tags and Go types in words, so that
// type errors do not leak Go type names such as config.plain.
var (
	yamlKinds = map[string]string{
		"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean",
		"seq": "a list", "map": "a mapping", "null": "nothing", "binary": "binary data",
	}
	goKinds = map[string]string{
		"int": "a number", "bool": "true or false", "string": "a string",
		"time.Duration": "a duration such as 10s", "config.TLSMode": "a string",
		"config.TargetKind": "a string", "config.AddressMode": "a string",
		"config.Secret": "a string", "config.TLSVersion": "a TLS version such as TLS12",
	}
)

// describeTypeError turns yaml.v3's "cannot unmarshal !!str `x` into int"
// into "expected a number, got a string `x`".
func describeTypeError(msg string) string {
	m := yamlTypeError.FindStringSubmatch(msg)
	got, ok := yamlKinds[m[1]]
	if !ok {
		got = "!!" + m[1]
	}
	want, ok := goKinds[m[3]]
	switch {
	case ok:
	case strings.HasPrefix(m[3], "[]"):
		want = "a list"
	default: // maps and the config structs
		want = "a mapping"
	}
	return strings.TrimSpace(fmt.Sprintf("expected %s, got %s %s", want, got, m[2]))
}
