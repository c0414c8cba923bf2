# syntax=docker/dockerfile:1.7
# One multi-stage build, one small non-root image per binary (and nba-slate: the
# nba-server binary with the job wrappers, for the slate CronJobs):
#
#   docker build --target nba-server  -t REGISTRY/nba-server:0.1.0  .
#   docker build --target nba-ingest  -t REGISTRY/nba-ingest:0.1.0  .
#   docker build --target nba-trainer -t REGISTRY/nba-trainer:0.1.0 .
#   docker build --target nba-slate   -t REGISTRY/nba-slate:0.1.0   .
#
# The three binaries are compiled once (one cargo invocation, shared dependencies); each
# runtime stage copies only its binary onto debian:bookworm-slim (the builder is
# bookworm too, so glibc matches). No protoc is needed: crates/api/build.rs compiles the
# .proto files with protox (pure Rust). Images run as uid/gid 10001 and need no writable
# root filesystem (the manifests mount /tmp as an emptyDir).
# The tags are pinned; bump them deliberately (Rust >= the workspace's rust-version).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target folder between builds (BuildKit); the
# binaries are copied out of the cached target so the next stage can see them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p nba-server -p nba-ingest -p nba-trainer \
 && mkdir -p /out \
 && cp target/release/nba-server target/release/nba-ingest target/release/nba-trainer /out/

# Shared runtime: CA roots (scrape over HTTPS, ClickHouse over https://), tzdata, a
# non-root user. No shell tools beyond Debian's base.
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 nba \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin nba
ENV RUST_LOG=info
USER 10001:10001

# Batch images add curl: the job wrappers (k8s/jobs/*.sh) push each run's outcome to
# the Prometheus Pushgateway.
FROM runtime AS jobs
USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
COPY --chmod=0555 k8s/jobs/ /opt/nba/jobs/
USER 10001:10001

FROM jobs AS nba-ingest
COPY --from=build /out/nba-ingest /usr/local/bin/nba-ingest
# The embedded monitoring queries need no files; the page store is a mounted volume.
ENV NBA_PROGRESS=never
ENTRYPOINT ["/usr/local/bin/nba-ingest"]
CMD ["--help"]

FROM jobs AS nba-trainer
COPY --from=build /out/nba-trainer /usr/local/bin/nba-trainer
ENV NBA_PROGRESS=never
ENTRYPOINT ["/usr/local/bin/nba-trainer"]
CMD ["--help"]

# The slate run (`nba-server slate`, CronJobs nba-slate-morning and nba-slate-pretip):
# the server's binary beside the wrappers and curl, so that the server image itself
# keeps no curl. The entrypoint is the wrapper (it pushes the outcome); NBA_SLATE_RUN
# names the run.
FROM jobs AS nba-slate
COPY --from=build /out/nba-server /usr/local/bin/nba-server
ENV NBA_LOG_FORMAT=json
ENTRYPOINT ["/opt/nba/jobs/slate-run.sh"]

# Last stage = the default target.
FROM runtime AS nba-server
COPY --from=build /out/nba-server /usr/local/bin/nba-server
# The binary defaults to loopback; in a container it must listen on all interfaces.
ENV NBA_LISTEN=0.0.0.0:50051 \
    NBA_ADMIN_LISTEN=0.0.0.0:9090 \
    NBA_LOG_FORMAT=json
# 50051 gRPC, 50052 reserved for Arrow Flight, 9090 admin (/metrics, /live, /ready).
EXPOSE 50051 50052 9090
ENTRYPOINT ["/usr/local/bin/nba-server"]
CMD ["serve"]
