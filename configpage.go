package main

import (
	"net/http"
	"strconv"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// configHandler serves /config: the configuration in force (the last one
// loaded or reloaded) as YAML, secrets masked.
func configHandler(cfg func() *config.Config) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		body, err := cfg().MaskedYAML()
		if err != nil {
			http.Error(w, "encoding the configuration: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}
