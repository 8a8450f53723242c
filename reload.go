package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// startReloader registers for SIGHUP before it returns (so an early SIGHUP
// reloads instead of killing the process) and starts the one goroutine that
// reloads the configuration. Send it a reply channel to reload on request.
func startReloader(ctx context.Context, cfg *config.SafeConfig, logger *slog.Logger) chan<- chan error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	requests := make(chan chan error)
	go func() {
		defer signal.Stop(hup)
		reloadLoop(ctx, cfg, hup, requests, logger)
	}()
	return requests
}

// reloadLoop reloads on a signal or a request until ctx is done.
func reloadLoop(ctx context.Context, cfg *config.SafeConfig, hup <-chan os.Signal, requests <-chan chan error, logger *slog.Logger) {
	for {
		var reply chan error
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case reply = <-requests:
		}
		err := cfg.Reload()
		if err != nil {
			logger.Error("reloading configuration", "err", err)
		} else {
			logger.Info("configuration reloaded")
		}
		if reply != nil {
			reply <- err // buffered: never blocks
		}
	}
}

func reloadHandler(requests chan<- chan error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "reload needs POST", http.StatusMethodNotAllowed)
			return
		}
		reply := make(chan error, 1)
		select {
		case requests <- reply:
		case <-r.Context().Done():
			return // shutting down, or the client left
		}
		if err := <-reply; err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	}
}
