# syntax=docker/dockerfile:1
# Targets:
#   service (default): the reward service, CPU only, non-root.   docker build -t reward-service .
#   trainer: verl + vLLM + flash-attn on CUDA, runs trainer/run_h100_multisignal.sh.
#            docker build --target trainer -t reward-service-trainer .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04

# ---- build the wheels of the service once -------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reward_service ./reward_service
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[service]"

# ---- trainer: verl, vLLM and flash-attn on CUDA -------------------------------------
FROM ${CUDA_IMAGE} AS trainer
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev git \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
WORKDIR /workspace
COPY pyproject.toml README.md ./
COPY reward_service ./reward_service
COPY trainer ./trainer
# verl[vllm] (through the gpu extra) pins vLLM and the CUDA build of torch it runs on;
# flash-attn compiles against that torch, hence no build isolation and a second step.
# Never the trl extra here: verl's model build fails with TRL importable beside it.
RUN pip install ".[trainer]" "verl[vllm]>=0.9.1,<0.10" \
    && pip install --no-build-isolation ".[gpu]"
ENTRYPOINT ["bash", "trainer/run_h100_multisignal.sh"]

# ---- service: the reward service (the default target) -------------------------------
FROM ${PYTHON_IMAGE} AS service
ENV PYTHONUNBUFFERED=1 REWARD_SERVICE_HOST=0.0.0.0 REWARD_SERVICE_PORT=8000
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "reward-service[service]" \
    && rm -rf /wheels \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin reward \
    && install -d -o 10001 -g 10001 /home/reward/stats \
    && install -d -m 0700 -o 10001 -g 10001 /home/reward/record
USER 10001
WORKDIR /home/reward
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "reward_service.healthcheck"]
CMD ["reward-service", "serve", "--host", "0.0.0.0"]
