package handler

import (
	"fmt"
	"io"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// writeDebug writes the probe's debug output: a summary line, each
// endpoint's transcript (its failure line and any hint stand where the
// session failed), the metrics the probe returns, and the module as a
// configuration that loads again, credentials hidden as /config hides them.
func (rec *record) writeDebug(w io.Writer) {
	fmt.Fprintf(w, "Probe of %s with module %q at %s: success=%t, took %s of a %s budget\n",
		rec.Target, rec.ModuleName, rec.Time.UTC().Format(time.RFC3339), rec.Success,
		rec.Duration.Round(time.Millisecond), rec.Budget)
	for _, ep := range rec.Endpoints {
		fmt.Fprintf(w, "\n== %s port %d (%s): up=%t success=%t\n", ep.Host, ep.Port, ep.Mode, ep.Up, ep.Success)
		io.WriteString(w, ep.Transcript.String())
	}
	io.WriteString(w, "\n== Metrics\n")
	w.Write(rec.Answer.AppendText(nil, false))
	io.WriteString(w, "\n== Module\n")
	module, err := config.MaskedModuleYAML(rec.ModuleName, rec.Module)
	if err != nil {
		fmt.Fprintf(w, "encoding module: %v\n", err)
	}
	w.Write(module)
}
