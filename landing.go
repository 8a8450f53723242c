package main

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// landingPage serves /: links to every endpoint, a form to probe a target,
// and the modules in force, built from the running configuration on each
// request so that a reload shows.
type landingPage struct {
	metricsPath string
	config      func() *config.Config
}

// ServeHTTP builds and serves the page; other paths are 404.
func (l landingPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, err := l.build()
	if err != nil {
		http.Error(w, "building the landing page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	page.ServeHTTP(w, r)
}

func (l landingPage) build() (*web.LandingPageHandler, error) {
	modules, err := moduleTable(l.config())
	if err != nil {
		return nil, err
	}
	return web.NewLandingPage(web.LandingConfig{
		Name:        "SMTP Exporter",
		Description: "Prometheus exporter probing every SMTP port of a target at once",
		Version:     version.Info(),
		Profiling:   "false",
		Links: []web.LandingLinks{
			{Address: l.metricsPath, Text: "Exporter metrics", Description: "the exporter's own metrics"},
			{Address: "/history", Text: "Recent probes", Description: "results and SMTP transcripts"},
			{Address: "/config", Text: "Configuration", Description: "the configuration in force, secrets masked"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
		Form: web.LandingForm{
			Action: "/probe",
			Inputs: []web.LandingFormInput{
				{Label: "Target", Type: "text", Name: "target", Placeholder: "mail.example.com or mail.example.com:587"},
				{Label: "Module", Type: "text", Name: "module", Value: "default"},
				{Label: "Debug", Type: "checkbox", Name: "debug", Value: "true"},
			},
		},
		ExtraHTML: modules,
	})
}

var modulesTemplate = template.Must(template.New("modules").Parse(`<h3>Modules</h3>
<table>
<tr><th>module</th><th>ports</th><th>targets</th><th>from</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Ports}}</td><td>{{.Targets}}</td><td>{{.From}}</td></tr>
{{end}}</table>
<p>A probe without <code>module</code> uses <code>default</code>. The shipped modules
(default, mx, submission) stay available unless the configuration file defines
a module of the same name: then the file's module is the one in force.</p>
`))

// moduleRow is one module as the landing page lists it.
type moduleRow struct {
	Name, Ports, Targets, From string
}

// moduleTable renders the modules of c as an HTML table (the landing page's
// template does not escape ExtraHTML: html/template does it here).
func moduleTable(c *config.Config) (string, error) {
	var rows []moduleRow
	for _, name := range c.ModuleNames() {
		m := c.Modules[name]
		ports := make([]string, len(m.Ports))
		for i, p := range m.Ports {
			ports[i] = fmt.Sprintf("%d %s", p.Port, p.TLS)
		}
		from := "configuration file"
		if c.Shipped(name) {
			from = "shipped"
		}
		rows = append(rows, moduleRow{Name: name, Ports: strings.Join(ports, ", "), Targets: string(m.Targets), From: from})
	}
	var b bytes.Buffer
	err := modulesTemplate.Execute(&b, rows)
	return b.String(), err
}
