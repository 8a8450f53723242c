package handler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smtp-exporter/smtp_exporter/internal/probe"
)

// requestErrorReasons are the reasons a /probe request is refused: SPEC's,
// and bad_param for a parameter whose value is not one it takes (debug).
var requestErrorReasons = []string{
	"missing_target", "repeated_param", "bad_target", "bad_port",
	"bad_timeout", "unknown_module", "not_allowed", "overloaded", "bad_param",
}

// ExporterMetrics are the exporter's own smtp_exporter_* metrics about probes.
type ExporterMetrics struct {
	probes        *prometheus.CounterVec
	duration      prometheus.Histogram
	inFlight      prometheus.Gauge
	requestErrors *prometheus.CounterVec
	shared        *prometheus.CounterVec
}

// NewExporterMetrics creates the metrics and registers them with reg.
func NewExporterMetrics(reg prometheus.Registerer) *ExporterMetrics {
	m := &ExporterMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtp_exporter_probes_total",
			Help: "Probes run, by module and result (success or failure).",
		}, []string{"module", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smtp_exporter_probe_duration_seconds",
			Help:    "Wall time of whole probes, in seconds.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smtp_exporter_probes_in_flight",
			Help: "Probes running right now.",
		}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtp_exporter_request_errors_total",
			Help: "Probe requests refused before probing, by reason.",
		}, []string{"reason"}),
		shared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smtp_exporter_probes_shared_total",
			Help: "Answers served from a probe another request started (share_window), by module.",
		}, []string{"module"}),
	}
	for _, reason := range requestErrorReasons {
		m.requestErrors.WithLabelValues(reason)
	}
	reg.MustRegister(m.probes, m.duration, m.inFlight, m.requestErrors, m.shared)
	return m
}

// observe counts one finished probe.
func (m *ExporterMetrics) observe(o *probe.Outcome) {
	result := "failure"
	if o.Success() {
		result = "success"
	}
	m.probes.WithLabelValues(o.ModuleName, result).Inc()
	m.duration.Observe(o.Duration.Seconds())
}
