# arrakis serve for PostgreSQL deployments (Render, any container host).
# Not built on the development machines (no Docker engine there): see docs/DEPLOY.md for what
# was and was not exercised.
FROM denoland/deno:2.9.6

WORKDIR /app
# The image's own unprivileged user owns the dependency cache and the data directory.
RUN mkdir -p /data && chown deno:deno /data /app
USER deno

# Dependencies first (deno.json + deno.lock only), so a code change does not refetch them.
# The import map holds production dependencies only: test-only packages (the browser driver)
# are imported by their full npm: specifier from tests/, which the image never copies.
COPY --chown=deno:deno deno.json deno.lock ./
RUN deno install --frozen
COPY --chown=deno:deno . .
RUN deno cache --frozen main.ts

ENV ARRAKIS_HOST=0.0.0.0 \
    ARRAKIS_HOME=/data \
    PORT=7777
EXPOSE 7777
# Logs, and the embedded store and its generated key when DATABASE_URL is unset: mount a
# persistent disk here when running without DATABASE_URL, or they go with the container
# (render.yaml uses PostgreSQL, so there /data holds only the server logs).
VOLUME /data

# Least privilege: network, environment, read the app, the Deno cache and /data, write /data
# only (logs; the embedded store and its key when DATABASE_URL is unset). No --allow-run,
# no --allow-sys, no --allow-ffi.
CMD ["deno", "run", "--no-prompt", "--cached-only", \
     "--allow-net", "--allow-env", \
     "--allow-read=/app,/deno-dir,/data", "--allow-write=/data", \
     "main.ts", "serve"]
