# Targets mirror .ci/run.
GO ?= go
FUZZTIME ?= 10s
FUZZ_TARGETS := FuzzReadReply FuzzParseEHLO FuzzParseTarget
DNS_FUZZ_TARGETS := FuzzFirstNameserver FuzzUnescapeTXT

.PHONY: all build test vet fmt fuzz examples dnslab e2e-postfix e2e ci

all: vet test build

build:
	$(GO) build -o smtp_exporter .

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

fuzz:
	for f in $(FUZZ_TARGETS); do $(GO) test ./collector -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; done
	for f in $(DNS_FUZZ_TARGETS); do $(GO) test ./internal/dnsclient -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; done

examples: build
	promtool check config examples/prometheus.yml
	amtool check-config examples/alertmanager.yml
	for f in examples/smtp_exporter*.yml; do ./smtp_exporter --config.check --config.file="$$f" || exit 1; done

# The end-to-end targets run in the network namespace smtp-exporter-test
# (test/lib.sh): they never touch the machine's own mail server or ports.
dnslab:
	bash test/dnslab/run.sh

e2e-postfix:
	bash test/postfix/run.sh

e2e:
	bash test/e2e/run.sh

ci:
	bash .ci/run
