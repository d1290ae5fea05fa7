#!/usr/bin/env bash
# One-Shot RLVR with the multi-signal reward: full-parameter GRPO of Qwen2.5-Math-1.5B on pi1,
# bf16, one H100 80 GB. Based on One-Shot-RLVR's scripts/train/training_1.5b_pi1_r128.sh
# (GRPO, prompt 1024 / response 3072, lr 1e-6, low_var_kl 0.001, entropy 0.001, vLLM at
# temperature 0.6, save and test every 20 steps) with the seed's H100 changes.
#
#   REWARD_URL=http://127.0.0.1:8000 bash trainer/run_h100_multisignal.sh [extra hydra overrides]
#   DRY_RUN=1 bash trainer/run_h100_multisignal.sh     # print the composed config and exit
#
# Environment (defaults in brackets):
#   REWARD_URL   reward service, or several comma-separated [http://127.0.0.1:8000]
#   REWARD_SERVICE_API_TOKEN   bearer token, when the service requires one (read by the manager)
#   REWARD_OUTAGE_WINDOW_S     how long an unreachable service is waited out before the run
#                stops with an error naming it [600]
#   MODEL_PATH   [Qwen/Qwen2.5-Math-1.5B]     TRAIN_FILE [data/train/one_shot_rlvr/pi1_r128.parquet]
#   VAL_FILE     [data/test/math500.parquet: python -m trainer.data math500]
#   OUTPUT_DIR   checkpoints and Hydra's logs [checkpoints/pi1_r128_multisignal]
#   CKPT_KEEP    checkpoints kept, about 18.5 GB each [3]
#   LOGGER       ['["console","tensorboard"]']  GPU_MEMORY_UTILIZATION [0.5]
#   PURE_BF16=1  bf16 master weights (default fp32 masters, bf16 compute; see trainer/model_loading.py)
#   PYTHON       [the active virtual environment's python, else .venv/bin/python, else python3]
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then
    PYTHON=$VIRTUAL_ENV/bin/python
  elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PYTHON=$REPO_ROOT/.venv/bin/python
  else
    PYTHON=python3
  fi
fi

REWARD_URL=${REWARD_URL:-http://127.0.0.1:8000}
REWARD_OUTAGE_WINDOW_S=${REWARD_OUTAGE_WINDOW_S:-600}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-Math-1.5B}
TRAIN_FILE=${TRAIN_FILE:-data/train/one_shot_rlvr/pi1_r128.parquet}
VAL_FILE=${VAL_FILE:-data/test/math500.parquet}
OUTPUT_DIR=${OUTPUT_DIR:-checkpoints/pi1_r128_multisignal}
CKPT_KEEP=${CKPT_KEEP:-3}
LOGGER=${LOGGER:-'["console","tensorboard"]'}
# vLLM's share of the 80 GB while it generates: 40 GB holds the bf16 weights (3 GB) and about
# 1.3M tokens of KV cache (28 KB/token), enough for hundreds of the 32 x 4096-token samples at
# once. The other 40 GB keep the FSDP actor resident (fp32 masters, grads and Adam: 24 GB);
# verl itself keeps the forward-only reference model offloaded to the CPU between its passes.
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.5}
MASTER_DTYPE=fp32
[[ "${PURE_BF16:-0}" == 1 ]] && MASTER_DTYPE=bf16

# Only settings verl 0.9.1's V1 trainer reads on this path (test_trainer_run_script.py refuses
# ones it ignores): the KL is the actor loss's, so no algorithm.kl_ctrl; bf16 compute with fp32
# reduction and buffers is verl's FSDP default, so no mixed_precision block.
ARGS=(
  algorithm.adv_estimator=grpo
  algorithm.use_kl_in_reward=False
  data.train_files="$TRAIN_FILE"
  data.val_files="$VAL_FILE"
  data.train_batch_size=128
  data.max_prompt_length=1024
  data.max_response_length=3072
  actor_rollout_ref.model.path="$MODEL_PATH"
  actor_rollout_ref.model.use_remove_padding=True
  actor_rollout_ref.model.enable_gradient_checkpointing=True
  actor_rollout_ref.model.lora_rank=0
  +actor_rollout_ref.model.override_config.attn_implementation=flash_attention_2
  actor_rollout_ref.actor.optim.lr=1e-6
  actor_rollout_ref.actor.ppo_mini_batch_size=64
  actor_rollout_ref.actor.use_dynamic_bsz=True
  # Token budgets from a measurement on one H100 80 GB (benchmarks/MEMORY.md: the 1.5B shape,
  # fp32 masters + AdamW resident, bf16 autocast, gradient checkpointing, plain torch logits):
  # an actor update peaked at 43.5 GiB for 8,192 tokens and 63.5 GiB for 16,384, and ran out
  # of memory at 24,576; forward-only log-prob passes peaked at 37-40 GiB for 24,576 tokens.
  # vLLM's sleeping state and fragmentation need headroom, and verl's fused-kernel path below
  # has not been measured on a GPU yet, so: 8,192 tokens per update micro-batch (2 full-length
  # sequences), 16,384 per log-prob micro-batch. Raise them only after measuring verl's path
  # (benchmarks/MEMORY.md says how).
  actor_rollout_ref.actor.ppo_max_token_len_per_gpu=8192
  # Log-probs and entropy from the hidden states in chunks (verl's torch backend), without
  # materialising fp32 logits over the 152k vocabulary; the entropy then comes from the fused
  # output, so verl's entropy chunking and checkpointing settings do not apply.
  actor_rollout_ref.model.use_fused_kernels=True
  actor_rollout_ref.actor.use_kl_loss=True
  actor_rollout_ref.actor.kl_loss_coef=0.001
  actor_rollout_ref.actor.kl_loss_type=low_var_kl
  actor_rollout_ref.actor.entropy_coeff=0.001
  actor_rollout_ref.actor.fsdp_config.param_offload=False
  actor_rollout_ref.actor.fsdp_config.optimizer_offload=False
  actor_rollout_ref.actor.fsdp_config.model_dtype="$MASTER_DTYPE"
  actor_rollout_ref.ref.fsdp_config.param_offload=False
  actor_rollout_ref.ref.fsdp_config.model_dtype=bf16
  # forward-only passes (no grads, no optimizer) take twice the tokens per micro-batch
  actor_rollout_ref.ref.log_prob_use_dynamic_bsz=True
  actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=16384
  actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True
  actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=16384
  actor_rollout_ref.rollout.name=vllm
  actor_rollout_ref.rollout.dtype=bfloat16
  actor_rollout_ref.rollout.tensor_model_parallel_size=1
  actor_rollout_ref.rollout.temperature=0.6
  actor_rollout_ref.rollout.val_kwargs.temperature=0.6
  actor_rollout_ref.rollout.val_kwargs.n=1
  actor_rollout_ref.rollout.gpu_memory_utilization="$GPU_MEMORY_UTILIZATION"
  actor_rollout_ref.rollout.n=32
  reward.reward_manager.source=importlib
  reward.reward_manager.name=HttpRewardManager
  reward.reward_manager.module.path="$REPO_ROOT/trainer/http_reward_manager.py"
  +reward.reward_kwargs.reward_url="'$REWARD_URL'"
  +reward.reward_kwargs.outage_window_s="$REWARD_OUTAGE_WINDOW_S"
  # verl trains on the rest of a group whose reward failed; this buffer stops the run instead
  # and logs reward_service/<signal>/mean for every training step.
  trainer.v1.sampler.custom_sampler.path="$REPO_ROOT/trainer/replay_buffer.py"
  trainer.v1.sampler.custom_sampler.name=RewardCheckedReplayBuffer
  +trainer.v1.sampler.sampler_kwargs.reward_url="'$REWARD_URL'"
  critic.enable=False
  trainer.critic_warmup=0
  trainer.logger="$LOGGER"
  trainer.project_name=reward_service_one_shot_rlvr
  trainer.experiment_name=qwen2.5-math-1.5b-pi1_r128-multisignal-h100
  trainer.default_local_dir="$OUTPUT_DIR"
  trainer.val_before_train=True
  trainer.n_gpus_per_node=1
  trainer.nnodes=1
  trainer.save_freq=20
  trainer.max_actor_ckpt_to_keep="$CKPT_KEEP"
  trainer.test_freq=20
  trainer.total_epochs=2000
)

if [[ "${DRY_RUN:-0}" == 1 ]]; then
  exec "$PYTHON" -m trainer.preflight --dry-run -- "${ARGS[@]}" "$@"
fi
[[ -f "$TRAIN_FILE" ]] || "$PYTHON" -m trainer.data pi1 --out "$TRAIN_FILE"
"$PYTHON" -m trainer.preflight -- "${ARGS[@]}" "$@"
# Hydra's own outputs/ folder goes beside the checkpoints, not into the repository.
exec "$PYTHON" -m verl.trainer.main_ppo hydra.run.dir="$OUTPUT_DIR/hydra" "${ARGS[@]}" "$@"
