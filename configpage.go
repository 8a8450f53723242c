package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// configHandler serves /config: the configuration in force (the last one
// loaded or reloaded) as YAML, secrets masked.
func configHandler(cfg func() *config.Config) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		c := cfg()
		body, err := c.MaskedYAML()
		if err != nil {
			http.Error(w, "encoding the configuration: "+err.Error(), http.StatusInternalServerError)
			return
		}
		body = append(shippedNote(c), body...)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// shippedNote is a YAML comment naming the shipped modules in force.
func shippedNote(c *config.Config) []byte {
	var shipped []string
	for _, name := range c.ModuleNames() {
		if c.Shipped(name) {
			shipped = append(shipped, name)
		}
	}
	if len(shipped) == 0 {
		return nil
	}
	return fmt.Appendf(nil, "# Shipped modules in force (the file defines none of these names): %s\n", strings.Join(shipped, ", "))
}
