# The in-cluster image of `kubectl-vpsie serve` (deploy/deployment.yaml).
#
#   docker build -t <your registry>/kubectl-vpsie:0.1.0 .
#
# Not built by the tests or CI: this workplace reaches no image registry for the base images.
# A static musl binary on distroless/static, as user 65532 (nonroot); no shell in the image.
# scripts/check-image-rootfs builds the binary as the builder stage does and runs `serve` as
# 65532 from a read-only root holding only what this image holds. The image needs the CA
# bundle distroless/static carries (/etc/ssl/certs/ca-certificates.crt): the Kubernetes and
# VPSie clients load the system roots, so FROM scratch would not start.

FROM rust:1.95-bookworm AS builder
# musl-tools: the C compiler `ring` needs for the musl target
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p kubectl-vpsie --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/kubectl-vpsie /kubectl-vpsie

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /kubectl-vpsie /kubectl-vpsie
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/kubectl-vpsie"]
CMD ["serve"]
