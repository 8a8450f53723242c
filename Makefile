# Targets mirror .ci/run.
GO ?= go
FUZZTIME ?= 10s
WIRE_FUZZ_TARGETS := FuzzReadReply FuzzParseEHLO
DNS_FUZZ_TARGETS := FuzzFirstNameserver FuzzUnescapeTXT
MTASTS_FUZZ_TARGETS := FuzzParsePolicy FuzzParseRecord FuzzParseTLSRPTRecord

BIN := smtp_exporter
VERSION := $(shell cat VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell id -un 2>/dev/null || echo unknown)@$(shell hostname 2>/dev/null || echo unknown)
ifndef BUILD_DATE
BUILD_DATE := $(shell date -u +%Y%m%d-%H:%M:%S)
endif
VERSION_PKG := github.com/prometheus/common/version
# -s -w: no symbol table or DWARF (panics keep their stack traces); the image stays small.
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'

PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGE ?= smtp_exporter
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
HELM ?= helm

.PHONY: all build crossbuild tarballs image test vet fmt fuzz examples dnslab e2e-postfix e2e-domains e2e-security e2e e2e-ha deploy-test image-test systemd-test release-test manifests ci clean

all: vet test build

build:
	$(GOBUILD) -o $(BIN) .

crossbuild:
	@for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  echo ">> building $$os-$$arch"; \
	  GOOS=$$os GOARCH=$$arch $(GOBUILD) -o .build/$$os-$$arch/$(BIN)$$ext . || exit 1; \
	done

tarballs: crossbuild
	PLATFORMS='$(PLATFORMS)' VERSION=$(VERSION) BIN=$(BIN) bash scripts/tarballs.sh

image:
	$(MAKE) crossbuild PLATFORMS='$(IMAGE_PLATFORMS)'
	IMAGE=$(IMAGE) VERSION=$(VERSION) REVISION=$(REVISION) CA_BUNDLE=$(CA_BUNDLE) \
	  PLATFORMS='$(IMAGE_PLATFORMS)' bash scripts/image.sh

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

fuzz:
	for f in $(WIRE_FUZZ_TARGETS); do $(GO) test ./internal/smtpwire -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; done
	$(GO) test ./internal/probe -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	for f in $(DNS_FUZZ_TARGETS); do $(GO) test ./internal/dnsclient -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; done
	$(GO) test ./internal/dane -run '^$$' -fuzz '^FuzzAssessVerify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/ocspstaple -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	for f in $(MTASTS_FUZZ_TARGETS); do $(GO) test ./internal/mtasts -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; done

examples: build
	promtool check config examples/prometheus.yml
	promtool check config examples/prometheus-sharded.yml
	amtool check-config examples/alertmanager.yml
	for f in examples/smtp_exporter*.yml; do ./smtp_exporter --config.check --config.file="$$f" || exit 1; done

# The end-to-end targets run in the network namespace smtp-exporter-test
# (test/lib.sh): they never touch the machine's own mail server or ports.
dnslab:
	bash test/dnslab/run.sh

e2e-postfix:
	bash test/postfix/run.sh

e2e-domains:
	bash test/domains/run.sh

e2e-security:
	bash test/security/run.sh

e2e:
	bash test/e2e/run.sh

e2e-ha:
	bash test/ha/run.sh

# The chart (helm lint, helm template over deploy/helm/ci/*.yaml, every
# object decoded strictly) and deploy/kubernetes/ against a fresh render;
# -count=1: the test reads the chart through helm, which go test's cache
# does not see.
deploy-test:
	cd deploy/test && $(GO) vet ./... && HELM=$(HELM) $(GO) test -count=1 ./...

# deploy/kubernetes/ rendered from the chart.
manifests:
	HELM=$(HELM) bash scripts/manifests.sh

image-test:
	bash test/image/run.sh

systemd-test:
	bash test/systemd/run.sh

release-test: tarballs
	VERSION=$(VERSION) bash test/release/check.sh

ci:
	bash .ci/run

clean:
	rm -rf .build .tarballs $(BIN)
