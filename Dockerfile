# syntax=docker/dockerfile:1
# The stackops operator image: built with the Rust toolchain of Cargo.toml's
# rust-version, run as the distroless non-root user (uid 65532) with only
# glibc and CA certificates beside the binary.
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin stackops \
    && cp target/release/stackops /stackops

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /stackops /usr/local/bin/stackops
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/stackops"]
CMD ["run"]
