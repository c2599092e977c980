# mpc-runtime image. Built fully offline from a host-built wheelhouse:
#
#   scripts/wheelhouse.sh                    # -> .e2e/wheelhouse (project wheel + deps)
#   docker build --build-arg WHEELHOUSE=.e2e/wheelhouse -t mpc-runtime:local .
#
# BASE_IMAGE must be Debian bookworm-based with python3 3.11 and a working `python3 -m venv`:
# python:3.11-slim (registry access) or mpc-base:bookworm (scripts/make-base-image.sh, no registry).
ARG BASE_IMAGE=python:3.11-slim

# ---- build stage: venv + offline install (the wheelhouse never reaches the final image) ----
FROM ${BASE_IMAGE} AS build
ARG WHEELHOUSE=wheelhouse
# Lets scripts/compose-e2e.sh prune the dangling build-stage image the legacy builder leaves.
LABEL org.mpc-runtime.stage=build
ENV PIP_NO_INDEX=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY ${WHEELHOUSE}/ /wheelhouse/
RUN python3 -m venv /opt/mpc \
 && /opt/mpc/bin/pip install --no-index --find-links /wheelhouse mpc-runtime \
 && /opt/mpc/bin/python -m compileall -q /opt/mpc/lib/python3*/site-packages/mpc_runtime /opt/mpc/lib/python3*/site-packages/protocols \
 && /opt/mpc/bin/python -c "import mpc_runtime, protocols.apps, numpy, cryptography, msgpack, pydantic" \
 && test -x /opt/mpc/bin/mpc

# ---- runtime stage ----
# Bytecode was compiled in the build stage: the read-only image never recompiles at start.
FROM ${BASE_IMAGE}
ARG MPC_UID=10001
ENV PATH=/opt/mpc/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8
RUN useradd --uid "${MPC_UID}" --user-group --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin mpc
COPY --from=build /opt/mpc /opt/mpc
WORKDIR /app
COPY party_configs/ /app/party_configs/
COPY jobs/ /app/jobs/
# Certificates are never baked in: each service bind-mounts its own files at /certs.
USER ${MPC_UID}:${MPC_UID}
ENTRYPOINT ["/opt/mpc/bin/mpc"]
CMD ["--help"]
