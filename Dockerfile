# capstan's container image: the capstan binary, the Argo CD, Argo Rollouts and Flux plugins
# with read-only default manifests, on a distroless base, as user 65532.
#
#   docker build -t capstan:0.1.0 .
#   docker run --read-only -p 8931:8931 \
#     -v "$PWD/secrets:/etc/capstan/secrets:ro" -v "$PWD/plugins:/etc/capstan/manifests:ro" \
#     capstan:0.1.0 serve --plugins /etc/capstan/manifests --listen 0.0.0.0:8931 \
#     --cache-dir /var/cache/capstan/compiled --auth-token-file /etc/capstan/secrets/mcp-token
#
# Without a container engine, `./dev image` assembles the same image (same file layout, and the
# ENTRYPOINT, CMD, USER, EXPOSE, VOLUME and LABELs of the last stage below) as an OCI layout in
# target/image/oci. One architecture: the builder's.
#
# Layout: /usr/local/bin/capstan; /etc/capstan/plugins/<name>/<name>.wasm and <name>.toml (from
# deploy/image/plugins, placeholder targets to override); /var/cache/capstan, the only place
# capstan writes, a volume owned by 65532. capstan refuses a compile cache others may write to and
# a Kubernetes emptyDir is mode 0777, so the cache is a folder capstan creates (0700) inside it.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
RUN cargo build --release --locked -p capstan \
 && (cd plugins && cargo build --release --locked \
       -p capstan-plugin-argocd -p capstan-plugin-rollouts -p capstan-plugin-flux) \
 && strip --strip-debug target/release/capstan \
 && for plugin in argocd rollouts flux; do \
      install -D -m 0644 "plugins/target/wasm32-wasip2/release/$plugin.wasm" "/out/plugins/$plugin/$plugin.wasm" \
   && install -m 0644 "deploy/image/plugins/$plugin.toml" "/out/plugins/$plugin/$plugin.toml"; \
    done \
 && install -d -m 0700 /out/cache

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
COPY --from=builder /src/target/release/capstan /usr/local/bin/capstan
COPY --from=builder /out/plugins /etc/capstan/plugins
COPY --from=builder --chown=65532:65532 /out/cache /var/cache/capstan
LABEL org.opencontainers.image.title="capstan" \
      org.opencontainers.image.description="MCP server that runs GitOps tools (Argo CD, Argo Rollouts, Flux) as sandboxed WebAssembly plugins" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532
EXPOSE 8931/tcp 9090/tcp
VOLUME ["/var/cache/capstan"]
ENTRYPOINT ["/usr/local/bin/capstan"]
# Binding 0.0.0.0 needs an inbound token: mount a Secret with `mcp-token` at /etc/capstan/secrets.
CMD ["serve", "--plugins", "/etc/capstan/plugins/argocd", "--plugins", "/etc/capstan/plugins/rollouts", "--plugins", "/etc/capstan/plugins/flux", "--listen", "0.0.0.0:8931", "--metrics-listen", "0.0.0.0:9090", "--cache-dir", "/var/cache/capstan/compiled", "--auth-token-file", "/etc/capstan/secrets/mcp-token"]
