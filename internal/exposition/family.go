// Package exposition writes the answer of one probe: families of gauges,
// their samples, and the text 0.0.4 and OpenMetrics formats written
// directly (byte for byte as expfmt writes them), with the protobuf
// formats through expfmt. It knows nothing of HTTP or registries: the
// caller picks the Format.
package exposition

import (
	"cmp"
	"slices"
	"strings"
)

// Family declares one gauge: its name, help and label names. A Family is
// immutable once made.
type Family struct {
	name   string
	help   string
	labels []string
	order  []int // label indexes in name order, as the exposition sorts them

	// The family's "# HELP" and "# TYPE" lines in the text format and in
	// OpenMetrics, which also escapes double quotes in HELP.
	textHeader, openMetricsHeader string
}

// NewFamily declares a gauge with the given label names, in the order
// their values are passed to Builder.Labels.
func NewFamily(name, help string, labels ...string) *Family {
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(labels[a], labels[b]) })
	return &Family{
		name: name, help: help, labels: labels, order: order,
		textHeader:        "# HELP " + name + " " + helpEscaper.Replace(help) + "\n# TYPE " + name + " gauge\n",
		openMetricsHeader: "# HELP " + name + " " + quotedEscaper.Replace(help) + "\n# TYPE " + name + " gauge\n",
	}
}

// Name returns the metric name.
func (f *Family) Name() string { return f.name }

// Help returns the help text.
func (f *Family) Help() string { return f.help }

// LabelNames returns the label names in declaration order.
func (f *Family) LabelNames() []string { return slices.Clone(f.labels) }

// Escaping of the text formats: HELP escapes backslash and newline (and
// double quote in OpenMetrics), label values all three. Read only.
var (
	helpEscaper   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	quotedEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)
