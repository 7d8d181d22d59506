# syntax=docker/dockerfile:1
# Inlet in a container. Built on Debian bookworm with the project's own
# scripts/deps.sh (the same packages `make` installs on a machine), run on
# bookworm-slim with the runtime libraries only. The dashboard is committed
# in web/dist and embedded by the C build, so no Node is needed here.
#
#   docker build -t inlet .
#   docker run -p 8080:8080 -v inlet-data:/var/lib/inlet inlet
#
# The full stack (nginx, two nodes, PostgreSQL, Redis, MinIO, ClickHouse):
# deploy/docker/compose.yaml.

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make -j"$(nproc)" build/inlet && strip build/inlet

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libsqlite3-0 libssl3 libjson-c5 libargon2-1 libzstd1 libcurl4 \
      zlib1g libbrotli1 libhiredis0.14 libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/inlet --create-home --shell /usr/sbin/nologin inlet
COPY --from=build /src/build/inlet /usr/local/bin/inlet
USER inlet
ENV INLET_LISTEN=0.0.0.0:8080 \
    INLET_DATA_DIR=/var/lib/inlet
VOLUME /var/lib/inlet
EXPOSE 8080
# /healthz answers 200 while the node can take submissions (503 when not).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
# SIGTERM drains: in-flight posts are answered (and committed) first.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/inlet"]
CMD ["serve"]
