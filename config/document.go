package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	promconfig "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// document is the parsed YAML of a configuration: it knows the line of
// every key, so that each problem can say where it is.
type document struct {
	root *yaml.Node // the top-level mapping; nil when there is none
}

func newDocument(n *yaml.Node) document {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return document{}
	}
	return document{root: n}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isMergeKey reports whether k is "<<", which merges another mapping in.
func isMergeKey(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Value == "<<" }

// lookup returns the key and value nodes of key in mapping n; keys merged
// in with "<<" count, after the mapping's own.
func lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && !isMergeKey(n.Content[i]) {
			return n.Content[i], n.Content[i+1]
		}
	}
	for _, merged := range mergeSources(n) {
		if k, v := lookup(merged, key); k != nil {
			return k, v
		}
	}
	return nil, nil
}

// mergeSources returns the mappings merged into mapping n with "<<".
func mergeSources(n *yaml.Node) []*yaml.Node {
	var sources []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMergeKey(n.Content[i]) {
			sources = append(sources, merged(n.Content[i+1])...)
		}
	}
	return sources
}

// merged returns the mappings a "<<" value names: one alias, or a list.
func merged(v *yaml.Node) []*yaml.Node {
	if v = resolve(v); v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return []*yaml.Node{v}
}

// child returns the node naming key in n (the key of a mapping entry, or
// the item of a sequence) and its value.
func child(n *yaml.Node, key string) (at, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return lookup(n, key)
	}
	i, err := strconv.Atoi(key)
	if err != nil || i < 0 || i >= len(n.Content) {
		return nil, nil
	}
	return n.Content[i], n.Content[i]
}

// line is the line of the deepest node on keys that the document has.
func (d document) line(keys []string) int {
	line, n := 0, d.root
	for _, key := range keys {
		at, v := child(n, key)
		if at == nil {
			break
		}
		line, n = at.Line, v
	}
	return line
}

// locate gives each problem its line.
func (d document) locate(probs []problem) ErrorList {
	list := make(ErrorList, len(probs))
	for i, p := range probs {
		list[i] = &Error{Line: d.line(p.at.keys), Module: p.at.module, Port: p.at.port, Msg: p.msg}
	}
	return list
}

// lastLine is the last line of n's own text (aliases not followed).
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

// within reports whether line lies in the text from node from to node to.
func within(line int, from, to *yaml.Node) bool {
	return line >= from.Line && line <= lastLine(to)
}

// attribute names the module and port of each problem that has a line but
// no module yet, from the part of the file the line lies in.
func (d document) attribute(list ErrorList) ErrorList {
	_, modules := lookup(d.root, "modules")
	modules = resolve(modules)
	if modules == nil || modules.Kind != yaml.MappingNode {
		return list
	}
	for _, e := range list {
		if e.Line == 0 || e.Module != "" {
			continue
		}
		for i := 0; i+1 < len(modules.Content); i += 2 {
			if k, v := modules.Content[i], modules.Content[i+1]; within(e.Line, k, v) {
				e.Module, e.Port = k.Value, portAt(v, e.Line)
			}
		}
	}
	return list
}

// portAt is the port number of module m's port entry that holds line, or 0.
func portAt(m *yaml.Node, line int) int {
	_, ports := lookup(m, "ports")
	ports = resolve(ports)
	if ports == nil || ports.Kind != yaml.SequenceNode {
		return 0
	}
	for _, item := range ports.Content {
		if within(line, item, item) {
			_, port := lookup(item, "port")
			if port != nil {
				n, _ := strconv.Atoi(port.Value)
				return n
			}
		}
	}
	return 0
}

// checkKeys reports every mapping key that t, the Go type the document
// decodes into, has no field for, and every TLS version crypto/tls has no
// name for. It removes those versions from the document: their decoder
// would stop at the first, before the other problems are found.
func (d document) checkKeys(t reflect.Type) ErrorList {
	if d.root == nil {
		return nil
	}
	c := keyChecker{seen: map[*yaml.Node]bool{}}
	c.check(d.root, t)
	return c.errs
}

// keyChecker walks the document beside the Go types it decodes into.
type keyChecker struct {
	seen map[*yaml.Node]bool // an anchor is checked once, not at each alias
	errs ErrorList
}

func (c *keyChecker) check(n *yaml.Node, t reflect.Type) {
	n = resolve(n)
	if n == nil || c.seen[n] {
		return
	}
	c.seen[n] = true
	switch t = deref(t); {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		c.checkStruct(n, t)
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			c.check(n.Content[i], t.Elem())
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			c.check(item, t.Elem())
		}
	}
}

var tlsVersionType = reflect.TypeFor[promconfig.TLSVersion]()

// checkStruct checks the keys of mapping n against struct t's fields.
func (c *keyChecker) checkStruct(n *yaml.Node, t reflect.Type) {
	fields := yamlFields(t)
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field, known := fields[k.Value]
		switch {
		case isMergeKey(k):
			for _, source := range merged(v) {
				c.check(source, t)
			}
		case !known:
			c.errs = append(c.errs, &Error{Line: k.Line, Msg: "unknown field " + k.Value})
		case field == tlsVersionType && !validTLSVersion(v):
			c.errs = append(c.errs, &Error{Line: k.Line, Msg: fmt.Sprintf("%s: %q is not a TLS version; the versions are %s", k.Value, resolve(v).Value, tlsVersionNames())})
			continue
		default:
			c.check(v, field)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

func validTLSVersion(v *yaml.Node) bool {
	_, ok := promconfig.TLSVersions[resolve(v).Value]
	return ok
}

// tlsVersionNames lists the TLS version spellings: "TLS10, TLS11, TLS12, TLS13".
func tlsVersionNames() string {
	return strings.Join(slices.Sorted(maps.Keys(promconfig.TLSVersions)), ", ")
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// yamlFields maps the keys struct t decodes to the types of their fields,
// inlined structs included.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
		case strings.Contains(opts, "inline"):
			maps.Copy(fields, yamlFields(deref(f.Type)))
		case name == "":
			fields[strings.ToLower(f.Name)] = deref(f.Type)
		default:
			fields[name] = deref(f.Type)
		}
	}
	return fields
}
