# Build: compile TypeScript. Run: production dependencies and the compiled JavaScript only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# One image for every role: COMM_ROLES (api, projector, worker) says what a container runs.
FROM node:20-bookworm-slim
ENV NODE_ENV=production COMM_DATA_DIR=/var/lib/communication
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
# Owned by the user the service runs as; a named volume mounted here starts with this owner.
RUN mkdir -p /var/lib/communication && chown node:node /var/lib/communication
USER node
EXPOSE 3000
# node runs as PID 1 and gets SIGTERM itself: the service stops taking work, finishes or hands back its jobs, exits.
# A young generation of up to 64 MB per semi-space: every event, message and row is short-lived, and with V8's default
# (16 MB) a burst of notifications spent about a tenth of each process's CPU in scavenges.
CMD ["node", "--max-semi-space-size=64", "dist/main.js"]
