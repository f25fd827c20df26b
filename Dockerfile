# Sentinel's roles as one image (compose.yaml). The checkout is copied in, so
# running the roles writes nothing into the host's checkout; dependencies and
# the island bundles are fetched and built here, at image build time.
# Untested in this project's CI, which has no Docker engine (tests/compose_test.ts
# checks compose.yaml against deno.json and config.ts instead).
FROM denoland/deno:2.9.6
ENV DENO_DIR=/deno-dir
WORKDIR /app
COPY . .
RUN deno install --frozen && deno task build && deno cache main.ts deploy.ts
ENTRYPOINT ["deno"]
CMD ["task", "start"]
