# DisTrackted benchmark image.
#   CUDA (default):  docker build -t distrackted:cuda .
#   CPU variant:     docker build --build-arg BASE_IMAGE=ubuntu:24.04 -t distrackted:cpu .
# The PyPI torch wheels bring their own CUDA libraries, so both variants install the same pins; the CUDA
# base adds the runtime the NVIDIA container toolkit expects. Base images are pinned by tag. For
# bit-for-bit rebuilds pin the digest too, e.g.
#   --build-arg BASE_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04@sha256:<digest>
# (`docker buildx imagetools inspect nvidia/cuda:13.0.0-runtime-ubuntu24.04` prints it).
ARG BASE_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------------
# builder: a virtual environment holding the project and exactly the pins of pyproject.toml
FROM ${BASE_IMAGE} AS builder
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 python3.12-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3.12 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependency layer first: it depends on pyproject.toml alone, so editing the code does not reinstall
# torch. The project itself is the one source of truth for every pin (torch==2.11.0, torchaudio==2.11.0).
COPY pyproject.toml README.md ./
RUN mkdir -p bench && touch bench/__init__.py \
    && pip install . \
    && pip uninstall -y distrackted
COPY bench ./bench
RUN pip install --no-deps .

# ---------------------------------------------------------------------------------------------------
# runtime: the venv, libsndfile, git, and a non-root user
FROM ${BASE_IMAGE} AS runtime
ARG UID=1000
ARG GID=1000
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 libsndfile1 git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'
# Ubuntu 24.04 images ship a user 'ubuntu' with UID/GID 1000: take its ids over for ours.
RUN (userdel --remove ubuntu 2>/dev/null || true) \
    && groupadd --gid "${GID}" bench \
    && useradd --uid "${UID}" --gid "${GID}" --create-home --shell /bin/bash bench \
    && mkdir -p /work /data \
    && chown bench:bench /work
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DVC_NO_ANALYTICS=true \
    DISTRACK_DATA_ROOT=/data \
    DISTRACK_CACHE_DIR=/work/cache
WORKDIR /work
USER ${UID}:${GID}
ENTRYPOINT ["distrack"]
# The end-to-end job of the quickstart; the DVC pipeline replaces it once it lands.
CMD ["evaluate", "--dataset", "fsdd", "--reference", "random", "--ipc", "10"]
