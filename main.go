// Command smtp_exporter is a Prometheus multi-target exporter that probes
// every SMTP port of a target at once.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/buildinfo"
	"github.com/smtp-exporter/smtp_exporter/internal/handler"
	"github.com/smtp-exporter/smtp_exporter/internal/heapfloor"
	"github.com/smtp-exporter/smtp_exporter/internal/limits"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

const name = "smtp_exporter"

// heapGoalFloor is the least heap the garbage collector lets grow before it
// collects (Go's own is 4 MiB): with it a busy exporter collects every
// ~150 probes instead of every ~25, for ≤ 12 MiB more memory while the live
// heap is small. GOGC in the environment overrides it (internal/heapfloor).
const heapGoalFloor = 16 << 20

// historyMaxBytes bounds what /history holds, whatever --history.limit says.
const historyMaxBytes = 16 << 20

func main() {
	buildinfo.FillVersion()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// options are the parsed command line.
type options struct {
	configFile    *string
	configCheck   *bool
	metricsPath   *string
	timeoutOffset *float64
	historyLimit  *int
	maxConcurrent *int
	maxConns      *int
	idleTimeout   *time.Duration
	web           *web.FlagConfig
	log           *promslog.Config
}

func parseFlags(args []string) (options, error) {
	app := kingpin.New(name, "A Prometheus exporter that probes every SMTP port of a target at once.")
	o := options{
		configFile:    app.Flag("config.file", "Configuration file; the embedded default config when empty.").Default("").String(),
		configCheck:   app.Flag("config.check", "Check the configuration file and exit.").Default("false").Bool(),
		metricsPath:   app.Flag("web.telemetry-path", "Path under which to expose the exporter's own metrics.").Default("/metrics").String(),
		timeoutOffset: app.Flag("timeout-offset", "Seconds to subtract from Prometheus's scrape timeout to get the probe budget.").Default("0.5").Float64(),
		historyLimit:  app.Flag("history.limit", "How many recent probes /history keeps.").Default("100").Int(),
		maxConcurrent: app.Flag("probe.max-concurrent", "Probes in flight at most; more are answered with 503.").Default("1000").Int(),
		maxConns:      app.Flag("web.max-connections", "HTTP connections held at most; past it the longest-idle one is closed. 0: a quarter of the descriptor limit, at most 1024.").Default("0").Int(),
		idleTimeout:   app.Flag("web.idle-timeout", "How long an idle keep-alive HTTP connection is kept.").Default("90s").Duration(),
		web:           webflag.AddFlags(app, ":10587"),
		log:           &promslog.Config{},
	}
	flag.AddFlags(app, o.log)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	_, err := app.Parse(args)
	return o, err
}

// run starts the exporter and serves until ctx is done.
func run(ctx context.Context, args []string) int {
	o, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger := promslog.New(o.log)
	if *o.configCheck {
		return checkConfig(*o.configFile, logger)
	}

	budget, err := descriptorBudget(*o.maxConns)
	if err != nil {
		logger.Error("sharing the descriptor limit", "err", err)
		return 1
	}
	defer heapfloor.Start(heapGoalFloor)()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(name),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	safeConfig := config.NewSafeConfig(*o.configFile, reg)
	if err := safeConfig.Reload(); err != nil {
		logger.Error("loading configuration", "err", err)
		return 1
	}
	logger.Info("starting "+name, "version", version.Info(), "config", *o.configFile,
		"descriptors", budget.Descriptors, "http_connections", budget.Connections, "probe_sockets", budget.Sessions)

	lim := newServerLimits(budget, reg)
	mux, err := newMux(o, reg, safeConfig, lim.sockets, startReloader(ctx, safeConfig, logger), logger)
	if err != nil {
		logger.Error("creating landing page", "err", err)
		return 1
	}
	return serve(ctx, mux, o, lim, logger)
}

// newMux wires the exporter's endpoints.
func newMux(o options, reg *prometheus.Registry, cfg *config.SafeConfig, sockets *limits.Admission, reloads chan<- chan error, logger *slog.Logger) (*http.ServeMux, error) {
	hostname, _ := os.Hostname()
	history := handler.NewHistory(*o.historyLimit, historyMaxBytes)
	probeHandler := handler.New(handler.Options{
		Config:        cfg.Get,
		Prober:        probe.NewProber(hostname, logger, tlsinspect.NewInspector()),
		Metrics:       handler.NewExporterMetrics(reg),
		History:       history,
		TimeoutOffset: time.Duration(*o.timeoutOffset * float64(time.Second)),
		MaxConcurrent: *o.maxConcurrent,
		Sockets:       sockets,
		Logger:        logger,
	})
	landing := landingPage{metricsPath: *o.metricsPath, config: cfg.Get}
	if _, err := landing.build(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/probe", probeHandler)
	mux.Handle("/history", history)
	mux.Handle("/config", configHandler(cfg.Get))
	mux.Handle(*o.metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg}))
	mux.HandleFunc("/-/reload", reloadHandler(reloads))
	mux.HandleFunc("/-/healthy", ok)
	mux.HandleFunc("/-/ready", ok)
	mux.Handle("/", landing)
	return mux, nil
}

func ok(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") }
