# One image for every role: `docker run IMAGE worker`, `… publish-outbox`, `… migrate`.
# Build: docker build -t paymentsctl:dev .

# --- build: all dependencies, compile TypeScript into dist/ --------------------------------------
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Without the sources `prepare` (tsc) has nothing to build yet; it runs below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and the compiled output only -------------------------------
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, which is a dev dependency; dist/ comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY sql ./sql
COPY infra ./infra
COPY --from=build /app/dist ./dist
# `paymentsctl` on PATH is the shim itself (#!/usr/bin/env node): env execs node in place, so node is
# PID 1 and receives SIGTERM directly — the roles drain on it. No shell sits in between.
RUN ln -s /app/bin/paymentsctl.js /usr/local/bin/paymentsctl
# The image's `node` user; numeric so Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 8080 9464 9465
ENTRYPOINT ["paymentsctl"]
CMD ["--help"]
