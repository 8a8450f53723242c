package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/smtp-exporter/smtp_exporter/internal/limits"
)

// descriptorBudget shares the process's descriptor limit between HTTP
// connections (maxConns, 0 for automatic) and probe sockets.
func descriptorBudget(maxConns int) (limits.Budget, error) {
	descriptors, err := limits.DescriptorLimit()
	if err != nil {
		return limits.Budget{}, err
	}
	return limits.Split(descriptors, maxConns)
}

// serverLimits keep the exporter within its descriptors: the HTTP
// server's connections and the probes' sockets.
type serverLimits struct {
	conns   *limits.Connections
	sockets *limits.Admission
}

// newServerLimits builds the limits of budget and registers their metrics.
func newServerLimits(budget limits.Budget, reg prometheus.Registerer) serverLimits {
	closed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smtp_exporter_http_connections_closed_total",
		Help: "HTTP connections the exporter closed to stay within --web.max-connections: the longest-idle one (idle), or a new one when none idled (refused).",
	}, []string{"reason"})
	closed.WithLabelValues("idle")
	closed.WithLabelValues("refused")
	l := serverLimits{
		conns:   limits.NewConnections(budget.Connections, func(reason string) { closed.WithLabelValues(reason).Inc() }),
		sockets: limits.NewAdmission(budget.Sessions),
	}
	reg.MustRegister(closed,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smtp_exporter_http_connections",
			Help: "HTTP connections open now.",
		}, func() float64 { return float64(l.conns.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smtp_exporter_probe_sockets_in_use",
			Help: "Sockets that probes in flight hold or may open: one per SMTP session, two per name being resolved.",
		}, func() float64 { return float64(l.sockets.InUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smtp_exporter_probe_sockets_limit",
			Help: "Probe sockets admitted at once: the descriptor limit less HTTP connections and a reserve; probes past it are answered with 503.",
		}, func() float64 { return float64(l.sockets.Capacity()) }),
	)
	return l
}

// serve runs the HTTP server until ctx is done, then shuts it down.
func serve(ctx context.Context, mux http.Handler, o options, lim serverLimits, logger *slog.Logger) int {
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       *o.idleTimeout,
		ConnState:         lim.conns.ConnState,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		server.Shutdown(shutdown)
	}()
	if err := web.ListenAndServe(server, o.web, logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("HTTP server stopped", "err", err)
		return 1
	}
	return 0
}
