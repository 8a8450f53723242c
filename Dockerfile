# The smtp_exporter image: the static binary that `make crossbuild` built
# (CGO off) and the build machine's CA bundle on scratch, as the Prometheus
# projects do it: no Go toolchain image is pulled and nothing runs at build
# time, so every architecture builds on any machine. Build it with
# `make image` (buildah or docker buildx; linux/amd64 and linux/arm64 in one
# manifest list). The embedded default config serves without a file; mount
# yours and pass --config.file.
FROM scratch

ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=unknown
ARG REVISION=unknown

LABEL org.opencontainers.image.title="smtp_exporter" \
      org.opencontainers.image.description="Prometheus multi-target exporter probing every SMTP port of a target at once" \
      org.opencontainers.image.source="https://github.com/smtp-exporter/smtp_exporter" \
      org.opencontainers.image.url="https://github.com/smtp-exporter/smtp_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY .build/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY .build/${TARGETOS}-${TARGETARCH}/smtp_exporter /bin/smtp_exporter

USER 65534:65534
EXPOSE 10587
ENTRYPOINT ["/bin/smtp_exporter"]
