# procoregraph: a static binary (CGO_ENABLED=0) on a distroless runtime
# (no shell, no package manager, non-root): about 50 MB, most of it the binary.
#
#   docker build -t procoregraph .
#
# The base images are build arguments, so a registry mirror can stand in
# for Docker Hub and gcr.io.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/procoregraph .

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/procoregraph /usr/local/bin/procoregraph
USER 65532:65532
# Listen on every interface inside the container (the default is loopback).
ENV ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/procoregraph"]
