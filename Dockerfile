# sitrep: multi-stage image. The binary embeds the migrations (sqlx::migrate! in crates/domain),
# so the runtime stage needs only the binary. PostgreSQL is not in the image: give sitrep a
# DATABASE_URL (docker-compose.yml runs a postgres:15 service for that).

# ---- build ----
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY migrations ./migrations
RUN cargo build --release --locked --bin sitrep \
    && cp target/release/sitrep /usr/local/bin/sitrep

# ---- runtime ----
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/sitrep --shell /usr/sbin/nologin sitrep
COPY --from=build /usr/local/bin/sitrep /usr/local/bin/sitrep
USER sitrep
WORKDIR /home/sitrep
ENV SITREP_LISTEN=0.0.0.0:4000
EXPOSE 4000
# No curl in the slim image: ask GET /healthz (200 when the database answers, 503 otherwise)
# over bash's /dev/tcp. Assumes SITREP_LISTEN keeps port 4000.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/4000 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["sitrep"]
CMD ["serve"]
