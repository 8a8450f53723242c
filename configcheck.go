package main

import (
	"errors"
	"log/slog"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// checkConfig is --config.check: it loads the configuration file (the
// embedded default when path is empty), logs every problem on a line of its
// own, and returns the exit code.
func checkConfig(path string, logger *slog.Logger) int {
	_, err := config.Load(path)
	var problems config.ErrorList
	switch {
	case errors.As(err, &problems):
		for _, p := range problems {
			logger.Error("invalid configuration", "err", p)
		}
		logger.Error("configuration not valid", "file", path, "problems", len(problems))
		return 1
	case err != nil:
		logger.Error("invalid configuration", "err", err)
		return 1
	}
	logger.Info("configuration is valid", "file", path)
	return 0
}
