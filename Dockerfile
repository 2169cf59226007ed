# arrakis serve for PostgreSQL deployments (Render, any container host).
# Not built on the development machines (no Docker engine there): see docs/DEPLOY.md for what
# was and was not exercised.
FROM denoland/deno:2.9.6

WORKDIR /app
# The image's own unprivileged user owns the dependency cache and the data directory.
RUN mkdir -p /data && chown deno:deno /data /app
USER deno

# Dependencies first (deno.json + deno.lock only), so a code change does not refetch them.
COPY --chown=deno:deno deno.json deno.lock ./
RUN deno install --frozen
COPY --chown=deno:deno . .
RUN deno cache --frozen main.ts

ENV ARRAKIS_HOST=0.0.0.0 \
    ARRAKIS_HOME=/data \
    PORT=7777
EXPOSE 7777

# Least privilege: network, environment, read the app, the Deno cache and /data, write /data
# only (logs; the embedded store and its key when DATABASE_URL is unset). No --allow-run,
# no --allow-sys, no --allow-ffi.
CMD ["deno", "run", "--no-prompt", "--cached-only", \
     "--allow-net", "--allow-env", \
     "--allow-read=/app,/deno-dir,/data", "--allow-write=/data", \
     "main.ts", "serve"]
