# syntax=docker/dockerfile:1
# Leadpoet's container image: a build stage that compiles `leadpoet` with CMake from Debian 12's packages
# (the same ones deploy/local/lib.sh installs), and a slim runtime stage with only the shared libraries it
# links, the default configuration and the data files, run as an unprivileged user.
#   docker build -t leadpoet:dev .
#   docker run --rm -p 8080:8080 leadpoet:dev            # embedded mode, no Kafka or Redis needed
# The Kubernetes manifests (deploy/k8s) run the same image with their own config and command.
# Checked by the ctest test deploy_docker (tests/deploy/docker.js); docker itself is not needed for that.

ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git ca-certificates nodejs npm \
      libuv1-dev librdkafka-dev libhiredis-dev libmsgpack-dev libmimalloc-dev \
      node-llhttp libjansson-dev libinih-dev libutf8proc-dev libstemmer-dev libxxhash-dev libxgboost-dev libhnswlib-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLP_WERROR=ON -DLP_BUILD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target leadpoet \
 && ./build/leadpoet version \
 && ./build/leadpoet check-config config/leadpoet.conf >/dev/null

FROM ${DEBIAN_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# The shared libraries of the binary (ldd build/leadpoet), and curl for the HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl \
      libuv1 librdkafka1 libhiredis0.14 libmsgpackc2 libmimalloc2.0 \
      libjansson4 libinih1 libutf8proc2 libstemmer0d libxxhash0 libpq5 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 leadpoet \
 && useradd --system --uid 10001 --gid leadpoet --home-dir /var/lib/leadpoet --shell /usr/sbin/nologin leadpoet \
 && install -d -o leadpoet -g leadpoet -m 0750 /var/lib/leadpoet
COPY --from=build /src/build/leadpoet /usr/bin/leadpoet
COPY --from=build /src/config/data /usr/share/leadpoet/data
COPY --from=build /src/config/leadpoet.conf /src/config/production.conf /etc/leadpoet/
# Every interface inside the container; snapshots in the state volume; data files where the image has them.
ENV LEADPOET_LISTEN=0.0.0.0:8080 \
    LEADPOET_SERVER_STATE_DIR=/var/lib/leadpoet \
    LEADPOET_SERVER_DATA_DIR=/usr/share/leadpoet/data
USER 10001:10001
WORKDIR /var/lib/leadpoet
VOLUME ["/var/lib/leadpoet"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
# SIGTERM drains the rings and saves the state (shutdown_timeout); give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/leadpoet"]
CMD ["serve", "-c", "/etc/leadpoet/leadpoet.conf"]
