"""VL-DAC: Vision-Language Decoupled Actor-Critic, in one file.

    python vldac.py --env gymcards                                   # tiny built-in VLM, CPU, offline
    python vldac.py --env gymcards --task points24 --model Qwen/Qwen2-VL-2B-Instruct
    python vldac.py --env gymcards --loss rl4vlm --thought-coef 0.5  # the RL4VLM baseline
    torchrun --nproc_per_node 8 vldac.py --env gymcards --model ...  # 8 GPUs: env shards, DDP

Per env step the VLM reads the prompt s_t (images + text) and samples a whole JSON reply a_t. The
critic is an MLP on the last prompt token's hidden state, detached from the backbone: one value per
env step, so GAE runs over env steps. The actor is trained with a token-level clipped PPO loss in
which every reply token of step t carries the same advantage A_t, plus a per-token k3 KL to the
initial policy. Read top to bottom: args -> model -> rollout -> GAE -> losses -> update -> main.
"""
import argparse
import bisect
import contextlib
import copy
import dataclasses
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm import tqdm
from transformers import (GenerationConfig, LogitsProcessor, LogitsProcessorList, SuppressTokensLogitsProcessor,
                          TemperatureLogitsWarper, TopPLogitsWarper)

import envs
from envs import _C
from tiny_vlm import build_tiny_vlm, image_only_processor


# --- args -----------------------------------------------------------------------------------------
def arg(default, help):
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass
class Args:
    env: str = arg("gymcards", "environment family: gymcards | grid | miniworld | alfworld | webshop")
    task: str = arg("", "task within the family ('' = the family's first task)")
    model: str = arg("tiny", "'tiny' (built in, offline) or a transformers VLM hub id / local path")
    seed: int = arg(1, "seed of torch, numpy and the envs (env i gets seed + i)")
    device: str = arg("auto", "auto | cpu | cuda | cuda:N")
    dtype: str = arg("auto", "model weights: auto (bfloat16 for hub models on CUDA, else float32) | float32 | bfloat16")
    run_dir: str = arg("", "where metrics.jsonl goes ('' = runs/<env>-<task>-<seed>-<time>)")
    image_size: int = arg(0, "env image size in pixels (0 = 84 for the tiny model, the env default otherwise)")
    env_options: str = arg("", "more env options, e.g. 'receptacles=2,distractors=0' for alfworld (see envs/)")
    num_envs: int = arg(32, "parallel envs; one batched generate serves all of them")
    num_steps: int = arg(4, "env steps per env per update (batch = num_envs * num_steps)")
    total_timesteps: int = arg(32_768, "env steps over the whole run")
    temperature: float = arg(1.0, "sampling temperature; log-probs are scored at the same temperature")
    top_p: float = arg(1.0, "nucleus sampling; the ratio scores the truncated, renormalised distribution that was sampled")
    max_new_tokens: int = arg(256, "reply length limit")
    old_logprobs: str = arg("auto", "generate | recompute (by the update's own forward: exact in any dtype) | auto (fp32: generate)")
    merge_lora: bool = arg(True, "generate with LoRA merged into a copy of the adapted weights (memory for that copy)")
    learning_rate: float = arg(0.0, "peak LR (0 = 5e-5 as the paper for hub models, 1e-3 for the tiny model)")
    end_learning_rate: float = arg(1e-7, "the cosine schedule decays to this")
    lr_warmup_updates: int = arg(0, "linear LR ramp over the first updates (fresh Adam moments move every weight ~lr)")
    update_epochs: int = arg(2, "PPO epochs per update")
    num_minibatches: int = arg(4, "minibatches per epoch over (step, env) samples")
    gamma: float = arg(None, "discount over env steps (the paper's Table 6: MiniWorld 0.99 or 1, EZPoints 1)")
    gae_lambda: float = arg(None, "GAE lambda (the paper's Table 6: MiniWorld 0.95 or 0.99, EZPoints 1)")
    clip_coef: float = arg(0.1, "PPO ratio clip epsilon")
    norm_adv: bool = arg(True, "normalise advantages per batch (off for sparse rewards: it scales signal-free batches to noise)")
    loss: str = arg("vldac", "vldac (token-level PPO) | rl4vlm (RL4VLM: sequence-level PPO, thought_coef, its defaults below)")
    kl_coef: float = arg(None, "beta: weight of the per-token k3 KL to the reference policy")
    vf_coef: float = arg(None, "alpha: weight of the value loss alpha * 1/2 (V - R)^2")
    clip_vloss: bool = arg(None, "clip the value loss like PPO's")
    value_warmup_updates: int = arg(None, "first updates train only the value head")
    stop_grad: bool = arg(None, "detach the value head's input from the backbone")
    max_grad_norm: float = arg(1.0, "gradient clipping")
    joint_grad_clip: bool = arg(None, "one grad-norm clip over policy + value head (else each is clipped on its own)")
    weight_decay: float = arg(0.0, "AdamW weight decay (it would pull the LoRA weights toward the reference)")
    truncation_bootstrap: bool = arg(True, "bootstrap truncated episodes with V(final obs); off = zero their advantage")
    thought_coef: float = arg(0.5, "RL4VLM's lambda: weight of the thought tokens' log-prob")
    invalid_action: str = arg("random", "unparsable reply -> random: a uniformly random action | penalty: that, plus invalid_penalty")
    invalid_penalty: float = arg(-1.0, "reward added to a step whose reply was invalid (invalid_action=penalty)")
    lora: bool = arg(None, "train LoRA adapters (default: on for hub models, off for the tiny model)")
    lora_r: int = arg(16, "LoRA rank")
    lora_alpha: int = arg(32, "LoRA alpha")
    lora_dropout: float = arg(0.1, "LoRA dropout")
    format_warmup_steps: int = arg(300, "tiny model only: supervised steps teaching the reply format on random actions")
    perception_steps: int = arg(-1, "tiny model, first-person grid / MiniWorld: the warm-up also teaches it to say what the view "
                                "shows, until 95%% of held-out captions are right or this many steps (-1: 1000 there, 0: off)")
    eval_every: int = arg(20, "evaluate on fresh held-out episodes every this many updates (0 = only at the end)")
    eval_episodes: int = arg(128, "episodes per evaluation")
    checkpoint_every: int = arg(25, "write a checkpoint every this many updates (and at the end; 0 = only at the end)")
    transcripts_every: int = arg(10, "append a few sample transcripts to transcripts.jsonl every this many updates")
    resume: str = arg("", "continue the run in this run dir from its latest checkpoint, exactly")
    eval_only: bool = arg(False, "only evaluate --checkpoint (sampled and greedy) and write eval.json beside it")
    checkpoint: str = arg("", "checkpoint (a run dir or a ckpt-* dir) for --eval-only (on its task, or on --task if given)")
    track: str = arg("", "also log the metrics to Weights & Biases, in this project ('' = off; pip install -e '.[track]')")


# the defaults that depend on --loss: VL-DAC's (the paper's Table 6) and RL4VLM's (its code)
LOSS_DEFAULTS = {"vldac": dict(kl_coef=0.05, vf_coef=0.15, clip_vloss=False, value_warmup_updates=2, stop_grad=True,
                               joint_grad_clip=False),
                 "rl4vlm": dict(kl_coef=0.0, vf_coef=0.5, clip_vloss=True, value_warmup_updates=0, stop_grad=False,
                                joint_grad_clip=True)}
# (gamma, gae_lambda) per env family; the paper's Table 6 values are in the README
FAMILY_DISCOUNT = {"gymcards": (0.9, 0.95), **dict.fromkeys(("grid", "miniworld", "alfworld", "webshop"), (0.99, 0.95))}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(Args):
        flag, doc = "--" + f.name.replace("_", "-"), f.metadata["help"]
        if f.name in LOSS_DEFAULTS["vldac"]:
            doc += " (default: " + ", ".join(f"{k} {v[f.name]}" for k, v in LOSS_DEFAULTS.items()) + ")"
        elif f.name in ("gamma", "gae_lambda"):
            doc += " (default per env: " + ", ".join(f"{k} {v[f.name == 'gae_lambda']}" for k, v in FAMILY_DISCOUNT.items()) + ")"
        kind = dict(action=argparse.BooleanOptionalAction) if f.type is bool else dict(type=f.type)
        p.add_argument(flag, default=f.default, help=doc, **kind)
    args, world = Args(**vars(p.parse_args(argv))), int(os.environ.get("WORLD_SIZE", 1))
    problems = [msg for bad, msg in [
        (args.num_envs < 1 or args.num_steps < 1, "--num-envs and --num-steps must be >= 1"),
        (args.num_envs % world, f"--num-envs must be divisible by the number of processes ({world})"),
        (args.total_timesteps < args.num_envs * args.num_steps, "--total-timesteps must cover one update"),
        (not 1 <= args.num_minibatches <= args.num_envs * args.num_steps // world,
         "--num-minibatches must be in 1..batch size (per process)"),
        (args.temperature <= 0 or not 0 < args.top_p <= 1, "--temperature must be > 0 and --top-p in (0, 1]"),
        (args.max_new_tokens < 1 or args.update_epochs < 1, "--max-new-tokens and --update-epochs must be >= 1"),
        (args.loss not in ("vldac", "rl4vlm"), "--loss must be vldac or rl4vlm"),
        (args.eval_only and args.model == "tiny" and not args.checkpoint, "--eval-only with the tiny model needs --checkpoint"),
        (args.invalid_action not in ("random", "penalty"), "--invalid-action must be random or penalty"),
        (args.track and importlib.util.find_spec("wandb") is None, "--track needs wandb: pip install -e '.[track]'"),
        (any("=" not in kv for kv in args.env_options.split(",") if kv.strip()), "--env-options takes key=value,... pairs"),
        (args.dtype not in ("auto", "float32", "bfloat16"), "--dtype must be auto, float32 or bfloat16"),
        (args.old_logprobs not in ("auto", "generate", "recompute"), "--old-logprobs must be auto, generate or recompute"),
        (any(x is not None and not 0 <= x <= 1 for x in (args.gamma, args.gae_lambda)), "--gamma and --gae-lambda must be in [0, 1]"),
        (any((x or 0) < 0 for x in (args.kl_coef, args.vf_coef, args.weight_decay, args.value_warmup_updates)),
         "--kl-coef, --vf-coef, --weight-decay and --value-warmup-updates must be >= 0"),
        (min(args.learning_rate, args.lr_warmup_updates) < 0 or args.clip_coef <= 0, "--learning-rate, --lr-warmup-updates >= 0; --clip-coef > 0"),
    ] if bad]
    if problems:
        p.error("; ".join(problems))
    return args


# --- many processes: torchrun, one per GPU --------------------------------------------------------
def init_distributed(args):
    """Under torchrun: join the process group (nccl on CUDA, gloo on CPU), one GPU per process. Each rank
    then steps its own num_envs / world_size envs and DDP averages the gradients. Without torchrun: a no-op."""
    if "WORLD_SIZE" not in os.environ:
        return args
    cuda, local = args.device.startswith("cuda"), int(os.environ["LOCAL_RANK"])
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo")
    return dataclasses.replace(args, device=f"cuda:{local}" if cuda else args.device)


def rank_world():
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def gather(items):
    """Every rank's list, concatenated in rank order, on every rank: for global statistics."""
    if not dist.is_initialized():
        return list(items)
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, list(items))
    return [x for part in parts for x in part]


# --- model: a VLM policy with a step-level value head --------------------------------------------
def reply_text(thoughts, action):
    """The reply format every prompt asks for."""
    return json.dumps({"thoughts": thoughts, "action": action})


def load_vlm(args, corpus, ckpt=None, vocab_size=512):
    if args.model == "tiny":
        return build_tiny_vlm(corpus, vocab_size, tokenizer_dir=ckpt and ckpt / "model")
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer
    try:
        processor = AutoProcessor.from_pretrained(args.model)
    except (ImportError, OSError):  # Qwen-VL's video processor needs torchvision; prompts hold only images
        processor = None
    if not hasattr(processor, "image_processor"):  # without torchvision transformers may return just the tokenizer
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        processor = image_only_processor(AutoImageProcessor.from_pretrained(args.model), tokenizer, tokenizer.chat_template)
    processor.tokenizer.padding_side = "left"
    return AutoModelForImageTextToText.from_pretrained(args.model, dtype=getattr(torch, args.dtype)), processor


def collate(samples, replies=None, pad_id=0):
    """Left-pad prompts to P and right-pad replies to R: (B, P + R) model inputs and P."""
    P = max(len(s["input_ids"]) for s in samples)
    R = max(len(r) for r in replies) if replies else 0
    input_ids = torch.full((len(samples), P + R), pad_id, dtype=torch.long)
    attention_mask, mm_token_type_ids = torch.zeros_like(input_ids), torch.zeros_like(input_ids)
    for i, s in enumerate(samples):
        L = len(s["input_ids"])
        input_ids[i, P - L:P], attention_mask[i, P - L:P], mm_token_type_ids[i, P - L:P] = s["input_ids"], 1, s["mm_token_type_ids"]
        if replies:
            input_ids[i, P:P + len(replies[i])], attention_mask[i, P:P + len(replies[i])] = replies[i], 1
    batch = dict(input_ids=input_ids, attention_mask=attention_mask, mm_token_type_ids=mm_token_type_ids)
    if "pixel_values" in samples[0]:
        batch["pixel_values"] = torch.cat([s["pixel_values"] for s in samples])
        batch["image_grid_thw"] = torch.cat([s["image_grid_thw"] for s in samples])
    return batch, P


def pad_right(rows, value=0.0):
    return nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=value)


class SampledLogprobs(LogitsProcessor):
    """Last in generate's processor list: keeps the log-softmax of the scores the next token is drawn from and
    gathers the drawn token's entry at the next call. One (B, V) at a time, never the logits of every step."""

    def __init__(self):
        self.last, self.rows = None, []

    def __call__(self, input_ids, scores):
        if self.last is not None:
            self.rows.append(self.last.gather(-1, input_ids[:, -1:]))
        self.last = scores.float().log_softmax(-1)
        return scores

    def result(self, sequences):  # (B, R): the log-prob of every generated token, the first included
        return torch.cat(self.rows + [self.last.gather(-1, sequences[:, -1:])], 1)


class Policy(nn.Module):
    """The VLM (actor) plus an MLP value head (critic) on the last prompt token's hidden state."""

    def __init__(self, model, processor, args):
        super().__init__()
        self.model, self.processor, self.args, self.perception = model, processor, args, {}  # see format_warmup
        tok = processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.eos_ids = sorted({tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} - {None, tok.unk_token_id})
        # never sample special tokens but end-of-turn (an untrained model would emit <|image_pad|> etc.)
        self.suppress_ids = sorted(set(tok.all_special_ids) - set(self.eos_ids))
        # the sampled distribution, and the very same processors score it: sampler == scored policy. The KL
        # term uses the untruncated one (a nucleus may exclude the other policy's token: infinite KL).
        self.full = LogitsProcessorList([SuppressTokensLogitsProcessor(self.suppress_ids),
                                         TemperatureLogitsWarper(args.temperature)])
        self.sampler = LogitsProcessorList([*self.full, *[TopPLogitsWarper(args.top_p)] * (args.top_p < 1)])
        model.generation_config = GenerationConfig()  # no hub default (repetition penalty, top-k, min-p) applies
        for m in model.modules():  # functional attention dropout is on whenever the module trains: zero it
            if isinstance(getattr(m, "attention_dropout", None), float):
                m.attention_dropout = 0.0
        hidden = model.config.get_text_config().hidden_size
        self.value_head = nn.Sequential(nn.Linear(hidden, 512), nn.GELU(), nn.Linear(512, 1))
        self.reference = None

    def freeze_reference(self):
        """The KL anchor is the policy as it is now: the adapter disabled under LoRA, else a frozen copy."""
        if not self.args.lora:
            self.reference = copy.deepcopy(self.model).requires_grad_(False).eval()

    def train(self, mode=True):
        """Dropout (LoRA's included) stays off in every mode, so the rollout and the update score one policy
        (ratio == 1 before anything is learned); train mode keeps what needs it (gradient checkpointing)."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
        return self

    def encode(self, prompts):
        """[(images, text)] -> one dict of unpadded prompt tensors per env."""
        messages = [[{"role": "user", "content": [{"type": "image"}] * len(images) + [{"type": "text", "text": text}]}]
                    for images, text in prompts]
        texts = [self.processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
        images = [im for ims, _ in prompts for im in ims]
        enc = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        if images and "mm_token_type_ids" not in enc:  # zeros would give image tokens text positions (M-RoPE)
            raise ValueError(f"{type(self.processor).__name__} returned no mm_token_type_ids for a prompt with images")
        keep, types = enc["attention_mask"].bool(), enc.get("mm_token_type_ids", torch.zeros_like(enc["input_ids"]))
        samples = [{"input_ids": ids[k], "mm_token_type_ids": ty[k]} for ids, ty, k in zip(enc["input_ids"], types, keep)]
        if images:  # pixel_values holds all images' patches back to back
            grids = enc["image_grid_thw"].split([len(ims) for ims, _ in prompts])
            pixels = enc["pixel_values"].split([int(g.prod(-1).sum()) for g in grids])
            for s, g, p in zip(samples, grids, pixels):
                s["image_grid_thw"], s["pixel_values"] = g, p
        return samples

    @torch.no_grad()
    def generate(self, samples, greedy=False):
        """One batched generate for all envs -> reply token ids (ending with eos if it came), their fp32
        log-probs under the sampled distribution (first token included) and V(prompt) from the prefill's
        last hidden state. LoRA runs merged into the base weights."""
        batch, P = collate(samples, pad_id=self.pad_id)
        sampling = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
        config = GenerationConfig(max_new_tokens=self.args.max_new_tokens, eos_token_id=self.eos_ids,
                                  pad_token_id=self.pad_id, return_dict_in_generate=True, **sampling)
        scored, prefill = SampledLogprobs(), []
        hook = self.model.get_decoder().norm.register_forward_hook(  # HF's hidden_states[-1] is the final norm's output
            lambda module, args, out: None if prefill else prefill.append(out[:, -1]))
        try:
            with self.merged_lora():
                out = self.model.generate(**self.to_device(batch), generation_config=config,
                                          logits_processor=LogitsProcessorList([*self.sampler, scored]))
        finally:
            hook.remove()
        tokens = out.sequences[:, P:]
        logprobs = scored.result(out.sequences).cpu()
        is_eos = torch.isin(tokens, torch.tensor(self.eos_ids, device=tokens.device)).cpu()
        replies = [row[: int(e.int().argmax()) + 1] if e.any() else row for row, e in zip(tokens.cpu(), is_eos)]
        return replies, [lp[: len(r)] for lp, r in zip(logprobs, replies)], self.value(prefill[0]).cpu().numpy()

    @contextlib.contextmanager
    def merged_lora(self):
        """LoRA folded into the base weights (one matmul per projection, not three) while generating. The
        unmerged weights are put back exactly afterwards: in bf16, W + dW - dW is not W."""
        layers = [m for m in self.model.modules() if isinstance(getattr(m, "lora_A", None), nn.ModuleDict)] \
            if self.args.lora and self.args.merge_lora else []
        saved = [m.get_base_layer().weight.data for m in layers]
        try:
            for m, w in zip(layers, saved):
                m.get_base_layer().weight.data = (w + m.get_delta_weight(m.active_adapters[0])).to(w.dtype)
            with self.model.disable_adapter() if layers else contextlib.nullcontext():
                yield
        finally:
            for m, w in zip(layers, saved):
                m.get_base_layer().weight.data = w

    def log_dist(self, logits, sampled=True):
        """(..., V) logits -> fp32 log-probs of the distribution generate samples from (the same processors,
        top-p truncation included), or with sampled=False the untruncated one at the sampling temperature."""
        flat = logits.float().flatten(0, -2)  # the processors work on (rows, V)
        return (self.sampler if sampled else self.full)(None, flat).log_softmax(-1).view(logits.shape)

    def forward(self, batch, P, model=None, detach=True, actor_grad=True):
        """Teacher-forced pass over prompt + reply -> fp32 log-probs (B, R) of the reply under the sampled and
        the untruncated distribution (the KL's; one tensor unless top-p < 1), and V(prompt) (B,). With
        actor_grad=False only the value head is differentiated (the value warm-up)."""
        R = batch["input_ids"].shape[1] - P
        with torch.set_grad_enabled(actor_grad and torch.is_grad_enabled()):
            out = (model or self.model)(**self.to_device(batch), output_hidden_states=True, use_cache=False,
                                        logits_to_keep=R + 1)
        logits, targets = out.logits[:, :-1], batch["input_ids"][:, P:, None].to(out.logits.device)  # j predicts j + 1
        pad = batch["attention_mask"][:, P:].to(logits.device) == 0  # pad targets may be suppressed (-inf)
        score = lambda sampled: self.log_dist(logits, sampled).gather(-1, targets).squeeze(-1).masked_fill(pad, 0.0)
        logprobs = score(True)
        full = logprobs if self.args.top_p == 1 else score(False)
        return logprobs, full, self.value(out.hidden_states[-1][:, P - 1], detach)

    def value(self, hidden, detach=True):
        return self.value_head(hidden.detach().float() if detach else hidden.float()).squeeze(-1)

    @torch.no_grad()
    def ref_logprobs(self, batch, P):
        if self.reference is not None:
            return self.forward(batch, P, model=self.reference)[1]
        with self.model.disable_adapter():
            return self.forward(batch, P)[1]

    def to_device(self, batch):
        return {k: v.to(self.value_head[0].weight.device) for k, v in batch.items()}

    def decode(self, replies):
        return self.processor.tokenizer.batch_decode(replies, skip_special_tokens=True)

    def thought_mask(self, reply):
        """RL4VLM: the tokens before the one that starts the last `"action":` are thought tokens, the rest
        action tokens. A reply without that key (cut off or malformed) is all action tokens: weight 1."""
        tok = self.processor.tokenizer
        keys = list(re.finditer(r'"action"\s*:', tok.decode(reply, skip_special_tokens=True)))
        if not keys:
            return torch.zeros(len(reply), dtype=torch.bool)
        # the first token whose prefix decodes past the key's start (prefix lengths grow with k)
        first = bisect.bisect_right(range(len(reply)), keys[-1].start(),
                                    key=lambda k: len(tok.decode(reply[: k + 1], skip_special_tokens=True)))
        return torch.arange(len(reply)) < first


# --- rollout: all envs step together ---------------------------------------------------------------
def act(policy, env, replies, rng):
    """Reply text -> env actions (indices into env.actions(i)); an unparsable or illegal reply gets a random legal one."""
    actions, valid = [], np.zeros(env.num_envs, bool)
    for i, text in enumerate(policy.decode(replies)):
        action, valid[i] = env.parse_action(text, i)
        actions.append(action if valid[i] else env.sample_action(i, rng))
    return actions, valid


@torch.no_grad()
def rollout(args, policy, env, rng):
    """num_steps batched env steps, one generate each (it also yields log-probs and values); then one
    value pass for V(s_T) and the final observations of truncated episodes."""
    policy.eval()  # no dropout while collecting
    T, N = args.num_steps, env.num_envs
    buf = {k: np.zeros((T, N), np.float32) for k in ("rewards", "values", "final_values")}
    buf.update({k: np.zeros((T, N), bool) for k in ("terminated", "truncated", "valid")})
    samples, replies, logprobs, episodes, prompt_texts, actions = [], [], [], [], [], []
    pending = []  # (t, i, final-observation prompt) of truncated episodes, valued at the end
    times = dict.fromkeys(("generate", "env", "value"), 0.0)
    for t in range(T):
        tic = time.perf_counter()
        prompts = [env.prompt(i) for i in range(N)]
        step_samples = policy.encode(prompts)
        step_replies, step_logprobs, buf["values"][t] = policy.generate(step_samples)
        times["generate"] += time.perf_counter() - tic
        tic = time.perf_counter()
        step_actions, buf["valid"][t] = act(policy, env, step_replies, rng)
        _, rewards, buf["terminated"][t], buf["truncated"][t], infos = env.step(step_actions)
        buf["rewards"][t] = rewards + (args.invalid_action == "penalty") * args.invalid_penalty * ~buf["valid"][t]
        times["env"] += time.perf_counter() - tic
        for i in np.flatnonzero(infos.get("_episode", np.zeros(N, bool))):
            episodes.append((float(infos["episode"]["r"][i]), bool(infos["episode"]["success"][i])))
        cut = np.flatnonzero(buf["truncated"][t] & ~buf["terminated"][t]) if args.truncation_bootstrap else []
        if len(cut):
            pending += [(t, i, s) for i, s in zip(cut, policy.encode([env.prompt(i, final=True) for i in cut]))]
        samples += step_samples
        replies += step_replies
        logprobs += step_logprobs
        prompt_texts += [text for _, text in prompts]
        actions += step_actions
    tic = time.perf_counter()  # V(s_T) and V(final observation), one prompt-only pass
    batch, P = collate(policy.encode([env.prompt(i) for i in range(N)]) + [s for *_, s in pending], pad_id=policy.pad_id)
    values = policy.forward(batch, P)[2].cpu().numpy()
    for (t, i, _), v in zip(pending, values[N:]):
        buf["final_values"][t, i] = v
    times["value"] = time.perf_counter() - tic
    return buf, values[:N], dict(samples=samples, replies=replies, logprobs=logprobs, episodes=episodes,
                                 prompt_texts=prompt_texts, actions=actions), times


# --- step-level GAE -------------------------------------------------------------------------------
def compute_gae_reference(rewards, values, terminated, truncated, next_value, gamma, gae_lambda, final_values=None):
    """Readable numpy GAE over env steps. All (T, N) time-major; next_value (N,) is V(s_T).

    terminated: no bootstrap. truncated: bootstrap with final_values[t] = V(final observation);
    without final_values a truncated step gets advantage 0 (the official code's behaviour).
    Either ends the chain, since values[t + 1] then belongs to the next episode.
    """
    T = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float32)
    carry = np.zeros_like(next_value, dtype=np.float32)  # advantage of step t + 1
    for t in reversed(range(T)):
        next_values = next_value if t == T - 1 else values[t + 1]
        adv = rewards[t] + gamma * next_values - values[t] + gamma * gae_lambda * carry
        truncated_adv = rewards[t] + gamma * final_values[t] - values[t] if final_values is not None else 0 * adv
        adv = np.where(truncated[t], truncated_adv, adv)
        adv = np.where(terminated[t], rewards[t] - values[t], adv)
        advantages[t] = carry = adv
    return advantages, (advantages + values).astype(np.float32)


def compute_gae(rewards, values, terminated, truncated, next_value, gamma, gae_lambda, final_values=None):
    """Same as compute_gae_reference, in C++ (float32, C-contiguous inputs; ValueError otherwise)."""
    return _C.gae(rewards, values, terminated, truncated, next_value, gamma, gae_lambda, final_values)


# --- losses ---------------------------------------------------------------------------------------
def masked_mean(x, mask, dim=None):
    mask = mask.to(x.dtype)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def vldac_policy_loss(logprobs, old_logprobs, advantages, reply_mask, clip_coef):
    """Token-level clipped PPO: every reply token of step t carries A_t. Mean over a step's tokens,
    then over steps. logprobs (B, R), advantages (B,). Returns (loss, per-token ratio)."""
    ratio = (logprobs - old_logprobs).exp()
    adv = advantages[:, None]
    per_token = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip_coef, 1 + clip_coef))
    return masked_mean(per_token, reply_mask, 1).mean(), ratio


def rl4vlm_policy_loss(logprobs, old_logprobs, advantages, reply_mask, thought_mask, clip_coef, thought_coef):
    """RL4VLM: one ratio per step, log pi = lambda * sum log p(thought tokens) + sum log p(action tokens)."""
    weight = reply_mask * torch.where(thought_mask, thought_coef, 1.0)
    ratio = ((logprobs - old_logprobs) * weight).sum(1).exp()
    per_step = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip_coef, 1 + clip_coef))
    return per_step.mean(), ratio


def kl_k3(logprobs, ref_logprobs, reply_mask):
    """Per-token k3 estimator of KL(pi || ref), mean over a step's tokens, then over steps."""
    d = ref_logprobs - logprobs
    return masked_mean(d.exp() - d - 1, reply_mask, 1).mean()


def value_loss(values, old_values, returns, clip_coef=None):
    """1/2 (V - R)^2, mean over steps; with clip_coef, PPO's pessimistic clipped form."""
    loss = (values - returns) ** 2
    if clip_coef is not None:
        clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
        loss = torch.max(loss, (clipped - returns) ** 2)
    return 0.5 * loss.mean()


# --- update ---------------------------------------------------------------------------------------
def make_optimizer(args, policy):
    """AdamW over two groups, the policy's trainable weights and the value head (own LR schedules and clips)."""
    value = list(policy.value_head.parameters())
    actor = [p for n, p in policy.named_parameters() if p.requires_grad and not n.startswith("value_head.")]
    return torch.optim.AdamW([{"params": actor}, {"params": value}], lr=args.learning_rate, weight_decay=args.weight_decay)


def clip_gradients(args, optimizer):
    """Clip the policy's and the value head's gradient norms separately, so a large value gradient cannot shrink
    the policy step (--joint-grad-clip: one clip over both, as RL4VLM). False if a norm is not finite."""
    actor, value = (g["params"] for g in optimizer.param_groups)
    groups = [actor + value] if args.joint_grad_clip else [actor, value]
    return all([bool(torch.isfinite(nn.utils.clip_grad_norm_(params, args.max_grad_norm))) for params in groups])


def plan_minibatches(args, batch_size, rng):
    """Every epoch's minibatches of (step, env) samples, drawn up front: the rollout is scored in the first epoch's."""
    return [np.array_split(rng.permutation(batch_size), args.num_minibatches) for _ in range(args.update_epochs)]


@torch.no_grad()
def score_rollout(args, policy, data, values, minibatches):
    """Once per rollout, batched as the update's first epoch: the reference's log-probs (for the KL) and, with
    --old-logprobs recompute, the old log-probs and values (T, N) from the update's own forward: the same
    inputs, shapes, dtype and dropout state as its first minibatch, so the ratio there is 1 by construction."""
    policy.train()
    data["ref_logprobs"] = [None] * len(data["samples"])
    for mb in minibatches:
        batch, P = collate([data["samples"][i] for i in mb], [data["replies"][i] for i in mb], policy.pad_id)
        ref = policy.ref_logprobs(batch, P).cpu()
        if args.old_logprobs == "recompute":
            logprobs, _, value = policy.forward(batch, P)
            values.reshape(-1)[mb] = value.cpu().numpy()
        for j, i in enumerate(mb):
            data["ref_logprobs"][i] = ref[j, : len(data["replies"][i])]
            if args.old_logprobs == "recompute":
                data["logprobs"][i] = logprobs[j, : len(data["replies"][i])].cpu()


def update(args, policy, optimizer, data, advantages, returns, values, warmup, minibatches, ddp=None):
    """update_epochs x minibatches over (step, env) samples. Warm-up updates train only the value head. Under
    torchrun every rank passes its shard and ddp (the DDP-wrapped policy): minibatch k is the union of every
    rank's k-th (equal sizes), so DDP's gradient average is the gradient of the loss over that union."""
    policy.train()
    b_adv = torch.as_tensor(advantages.reshape(-1))
    if args.norm_adv:  # over all ranks' samples; population std: a batch of 1 is 0, not NaN
        every = torch.tensor(gather(advantages.reshape(-1).tolist()))
        b_adv = (b_adv - every.mean()) / (every.std(correction=0) + 1e-8)
    b_returns, b_values = torch.as_tensor(returns.reshape(-1)), torch.as_tensor(values.reshape(-1))
    log, skips = {k: [] for k in ("policy_loss", "value_loss", "ref_kl", "approx_kl", "clipfrac", "ratio_first")}, 0
    for epoch in minibatches:
        for mb in epoch:
            batch, P = collate([data["samples"][i] for i in mb], [data["replies"][i] for i in mb], policy.pad_id)
            logprobs, full_logprobs, newvalue = (ddp or policy)(batch, P, detach=args.stop_grad or warmup,
                                                                actor_grad=not warmup)
            device = logprobs.device
            reply_mask = batch["attention_mask"][:, P:].bool().to(device)
            old = pad_right([data["logprobs"][i] for i in mb]).to(device)
            ref = pad_right([data["ref_logprobs"][i] for i in mb]).to(device)
            adv, ret, old_v = (x[mb].to(device) for x in (b_adv, b_returns, b_values))
            v_loss = value_loss(newvalue, old_v, ret, args.clip_coef if args.clip_vloss else None)
            if args.loss == "vldac":
                pg_loss, ratio = vldac_policy_loss(logprobs, old, adv, reply_mask, args.clip_coef)
                token_mask = reply_mask
            else:
                thoughts = pad_right([data["thought_mask"][i] for i in mb], False).to(device)
                pg_loss, ratio = rl4vlm_policy_loss(logprobs, old, adv, reply_mask, thoughts, args.clip_coef,
                                                    args.thought_coef)
                token_mask = torch.ones_like(ratio, dtype=torch.bool)
            ref_kl = kl_k3(full_logprobs, ref, reply_mask)
            loss = args.vf_coef * v_loss if warmup else pg_loss + args.kl_coef * ref_kl + args.vf_coef * v_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_gradients(args, optimizer):
                optimizer.step()
            else:  # a non-finite loss or gradient: skip the step (every rank alike: gradients are all-reduced)
                skips += 1
            with torch.no_grad():
                log_ratio = (logprobs - old)[reply_mask]
                log["approx_kl"].append(((log_ratio.exp() - 1) - log_ratio).mean().item())
                log["clipfrac"].append(((ratio - 1).abs() > args.clip_coef)[token_mask].float().mean().item())
                if not log["ratio_first"]:
                    log["ratio_first"].append((ratio - 1).abs()[token_mask].max().item())
            for k, v in (("policy_loss", pg_loss), ("value_loss", v_loss), ("ref_kl", ref_kl)):
                log[k].append(v.item())
    out = {f"losses/{k}": float(np.mean(x)) for k, x in log.items() if k != "ratio_first"}
    out["losses/initial_ratio_dev"] = log["ratio_first"][0]  # max |ratio - 1| on the first minibatch: PPO-exact if ~0
    ranks = gather([out])
    out = {k: float((max if k.endswith("ratio_dev") else np.mean)([r[k] for r in ranks])) for k in out}
    out["losses/nonfinite_skips"] = skips  # optimizer steps skipped for a non-finite gradient
    y, v = (np.array(gather(x.reshape(-1).tolist()), np.float32) for x in (returns, values))
    out["losses/explained_variance"] = float(1 - np.var(y - v) / np.var(y)) if np.var(y) > 0 else float("nan")
    return out


def lr_schedule(args, num_updates):
    """u (updates done) -> LR / peak LR of (policy, value head): a linear ramp over lr_warmup_updates, times a
    cosine to end_learning_rate. The policy's schedule starts at its first update, after the value warm-up."""
    end, ramp, w = args.end_learning_rate / args.learning_rate, max(1, args.lr_warmup_updates), args.value_warmup_updates

    def factor(u, n):
        return min(1.0, (u + 1) / ramp) * (end + (1 - end) * (1 + math.cos(math.pi * u / n)) / 2)
    return (lambda u: factor(u - w, max(1, num_updates - w)) if u >= w else 0.0), (lambda u: factor(u, num_updates))


# --- tiny-model format warm-up, evaluation --------------------------------------------------------
def format_warmup(args, policy, env, rng, perception=0):
    """Supervised replies with uniformly random actions: teaches the JSON format, never the task. With `perception`
    steps (a VLM's pretraining stands in) the thoughts caption the view, until 95% of held-out views are captioned
    right (checked every 100 steps, after --format-warmup-steps) or those steps are spent. Returns the accuracies."""
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=1e-3)
    tok, eos, accuracy, tic = policy.processor.tokenizer, torch.tensor([policy.eos_ids[0]]), {}, time.perf_counter()
    bar = tqdm(range(1, max(args.format_warmup_steps, perception) + 1), desc="format warm-up", leave=False,
               disable=rank_world()[0] > 0 or None)
    for step in bar:
        policy.train()
        samples = policy.encode([env.prompt(i) for i in range(env.num_envs)])
        actions = [env.sample_action(i, rng) for i in range(env.num_envs)]
        texts = [reply_text(env.caption(i) if perception else "", env.actions(i)[a]) for i, a in enumerate(actions)]
        replies = [torch.cat([torch.tensor(tok.encode(text)), eos]) for text in texts]
        batch, P = collate(samples, replies, policy.pad_id)
        logprobs = policy.forward(batch, P)[1]
        loss = -masked_mean(logprobs, batch["attention_mask"][:, P:].to(logprobs.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        env.step(actions)  # visit varied states
        if perception and (step % 100 == 0 or step == len(bar)):
            accuracy = caption_accuracy(args, policy) | {"steps": step, "seconds": time.perf_counter() - tic}
            bar.set_postfix(captions=f"{accuracy['all']:.2f}")
            if step >= args.format_warmup_steps and accuracy["all"] >= 0.95:
                break
    return accuracy


@torch.no_grad()
def caption_accuracy(args, policy, num_views=128):
    """The share of greedy replies on held-out views (random play, own seeds) whose thoughts are the view's caption:
    in all, by true caption, and by field where the env has them (grid: box in view; where, when it is)."""
    policy.eval()
    env = make_env(args, num_views, seed=args.seed + 2_000_000)
    env.reset()
    rng = np.random.default_rng(args.seed + 2_000_000)
    for _ in range(8):
        env.step([env.sample_action(i, rng) for i in range(num_views)])
    replies = policy.decode(policy.generate(policy.encode([env.prompt(i) for i in range(num_views)]), greedy=True)[0])
    truth, fields = [env.caption(i) for i in range(num_views)], getattr(env, "caption_fields", {})
    env.close()
    said = [next((c for c in env.captions if r.startswith(reply_text(c, "")[:-3])), None) for r in replies]
    out = {"all": float(np.mean([s == t for s, t in zip(said, truth)]))}
    out |= {c: float(np.mean([s == t for s, t in zip(said, truth) if t == c])) for c in dict.fromkeys(truth)}
    for f in dict.fromkeys(f for t in truth for f in fields.get(t, ())):  # over the views whose caption has field f
        out[f] = float(np.mean([fields.get(s, {}).get(f) == fields[t][f] for s, t in zip(said, truth) if f in fields[t]]))
    return out


@torch.no_grad()
def evaluate(args, policy, num_episodes, greedy=False):
    """Success rate and mean return over `num_episodes` fresh episodes on seeds disjoint from training.
    Each eval env contributes the same number of episodes, so short episodes are not over-counted. Under
    torchrun each rank plays its share of the eval envs (env i has seed + 1_000_000 + i, as in one process)."""
    policy.eval()
    rank, world = rank_world()
    n = max(1, min(args.num_envs, num_episodes) // world)
    quota = math.ceil(num_episodes / (n * world))
    env = make_env(args, n, seed=args.seed + 1_000_000 + rank * n)
    env.reset()
    rng = np.random.default_rng(args.seed + 1_000_000 + rank * n)
    done, returns, successes, valid = np.zeros(n, int), [], [], []
    bar = tqdm(total=n * quota, desc="eval episodes", leave=False, disable=rank > 0 or None)
    while (done < quota).any():
        replies = policy.generate(policy.encode([env.prompt(i) for i in range(n)]), greedy=greedy)[0]
        actions, ok = act(policy, env, replies, rng)
        valid.append(ok[done < quota])
        *_, infos = env.step(actions)
        for i in np.flatnonzero(infos.get("_episode", np.zeros(n, bool))):
            if done[i] < quota:
                returns.append(float(infos["episode"]["r"][i]))
                successes.append(bool(infos["episode"]["success"][i]))
                done[i] += 1
                bar.update()
    bar.close()
    env.close()
    returns, successes, valid = gather(returns), gather(successes), gather(np.concatenate(valid).tolist())
    n, p = len(successes), float(np.mean(successes))
    half = 1.96 * math.sqrt(p * (1 - p) / n + 0.9604 / n**2) / (1 + 3.8416 / n)  # Wilson score interval
    center = (p + 1.9208 / n) / (1 + 3.8416 / n)
    ret_half = 1.96 * float(np.std(returns, ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return {"success_rate": p, "success_ci95_low": min(p, max(0.0, center - half)),
            "success_ci95_high": max(p, min(1.0, center + half)), "episodic_return": float(np.mean(returns)),
            "episodic_return_ci95": ret_half, "invalid_action_rate": float(1 - np.mean(valid)), "episodes": n}


# --- checkpoints: atomic, resumable, loadable by transformers / peft -------------------------------
def env_snapshot(env):
    """The envs' exact state, or None for envs that have none (MiniWorld): a resume then starts new episodes."""
    try:
        return env.get_snapshot()
    except NotImplementedError:
        return None


def save_checkpoint(run_dir, policy, optimizer, scheduler, env, rng, update_idx, global_step, keep=2):
    """Write ckpt-<update>/ under a temporary name, rename it (atomic), then repoint `latest` (atomic):
    a kill at any moment leaves `latest` naming a complete checkpoint. Rank 0 writes it, with every rank's
    env snapshot and random states (the model and optimizer are the same on all ranks)."""
    ranks = gather([{"env": env_snapshot(env), "rng": {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
                     "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}])
    if rank_world()[0]:
        return
    name = f"ckpt-{update_idx:06d}"
    tmp = run_dir / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    policy.model.save_pretrained(tmp / "model")  # the LoRA adapter, or the whole tiny model
    policy.processor.save_pretrained(tmp / "model")
    torch.save({
        "update": update_idx, "global_step": global_step, "args": dataclasses.asdict(policy.args),
        "model": policy.model.state_dict() if policy.args.model == "tiny" or not policy.args.lora else None,
        "reference": None if policy.reference is None else policy.reference.state_dict(),
        "value_head": policy.value_head.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "ranks": ranks}, tmp / "state.pt")
    shutil.rmtree(run_dir / name, ignore_errors=True)
    os.replace(tmp, run_dir / name)
    (run_dir / ".latest.tmp").write_text(name)
    os.replace(run_dir / ".latest.tmp", run_dir / "latest")
    for old in sorted(run_dir.glob("ckpt-*"))[:-keep]:
        shutil.rmtree(old)


def load_checkpoint(path):
    """A run dir (its `latest`) or a ckpt-* dir -> (dir, state). Clear errors for anything else."""
    path = Path(path)
    if (path / "latest").is_file():
        path = path / (path / "latest").read_text().strip()
    if not (path / "state.pt").is_file():
        raise SystemExit(f"error: no checkpoint at {path} (expected a run dir with `latest` or a ckpt-* dir)")
    try:
        return path, torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling / zip failure means the same thing to the user
        raise SystemExit(f"error: checkpoint {path / 'state.pt'} is unreadable ({type(e).__name__}: {e})")


def resume_args(cli, saved):
    """The saved run's args (with defaults added since filled in); flags given on the command line must agree."""
    clash = [f"--{k.replace('_', '-')} (run: {saved[k]!r}, given: {v!r})" for k, v in dataclasses.asdict(cli).items()
             if k != "resume" and v != getattr(Args(), k) and v != saved.get(k)]
    if clash:
        raise SystemExit("error: --resume continues a run with its own args; these differ: " + ", ".join(clash))
    return resolve(Args(**saved))


# --- main -----------------------------------------------------------------------------------------
def make_env(args, num_envs, seed):
    """envs.make with --image-size and --env-options ('key=value,...', each value read as JSON: 2, true)."""
    options = {k.strip(): json.loads(v) for k, _, v in (kv.partition("=") for kv in args.env_options.split(",") if kv.strip())}
    options |= {"image_size": args.image_size} if args.image_size else {}
    return envs.make(f"{args.env}/{args.task}", num_envs, seed=seed, **options)


def resolve(args):
    """Fill in the defaults that depend on other args."""
    tiny, task = args.model == "tiny", args.task or envs.DEFAULT_TASKS.get(args.env, "")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    gamma, gae_lambda = FAMILY_DISCOUNT.get(args.env, (0.9, 0.95))
    unset = {k: v for k, v in {**LOSS_DEFAULTS[args.loss], "gamma": gamma, "gae_lambda": gae_lambda}.items()
             if getattr(args, k) is None}
    dtype = ("bfloat16" if device.startswith("cuda") and not tiny else "float32") if args.dtype == "auto" else args.dtype
    return dataclasses.replace(args, task=task, device=device, **unset, dtype=dtype,
        old_logprobs=("generate" if dtype == "float32" else "recompute") if args.old_logprobs == "auto" else args.old_logprobs,
        image_size=args.image_size or (84 if tiny else 0), learning_rate=args.learning_rate or (1e-3 if tiny else 5e-5),
        lora=(not tiny) if args.lora is None else args.lora,
        run_dir=args.run_dir or f"runs/{args.env}-{task}-{args.seed}-{int(time.time())}")


def build_policy(args, env, ckpt=None, rng=None, state=None):
    """Model + processor + value head (+ LoRA), from a checkpoint dir (and its loaded state.pt) when given.
    A fresh tiny model first gets the format warm-up (before LoRA, so the reference policy knows the format)."""
    captions = getattr(env, "captions", ()) if args.model == "tiny" else ()
    if args.perception_steps > 0 and not captions:
        raise SystemExit("error: --perception-steps needs the tiny model and an env with captions (first-person grid, MiniWorld)")
    perception = (1000 if args.perception_steps < 0 else args.perception_steps) if captions else 0
    commands = dict.fromkeys(s for i in range(env.num_envs) for s in env.actions(i))  # symbols, or the commands now
    replies = [reply_text(t, s) for t in ("", *captions) for s in commands]
    words = getattr(env, "vocabulary", ())  # text worlds: phrases naming all their things, to be whole tokens
    corpus = [env.prompt(i)[1] for i in range(env.num_envs)] + (replies + [reply_text("", w) for w in words]) * 8
    policy = Policy(*load_vlm(args, corpus, ckpt, 2048 if words else 512), args).to(args.device)
    if args.model == "tiny" and ckpt is None:
        policy.perception = format_warmup(args, policy, env, rng, perception)
    policy.model.to(getattr(torch, args.dtype))  # the tiny model learns the format in fp32, then runs as asked
    if args.lora:
        from peft import LoraConfig, PeftModel, get_peft_model
        hub_ckpt = ckpt is not None and args.model != "tiny"  # the tiny model's weights come from state.pt
        policy.model = PeftModel.from_pretrained(policy.model, ckpt / "model", is_trainable=True) if hub_ckpt else \
            get_peft_model(policy.model, LoraConfig(
                r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"))
    if args.model != "tiny" and args.device.startswith("cuda"):
        policy.model.gradient_checkpointing_enable({"use_reentrant": False})  # re-entrant breaks DDP
    if state:
        if state["model"] is not None:
            policy.model.load_state_dict(state["model"])
        policy.value_head.load_state_dict(state["value_head"])
    return policy.to(args.device).eval()  # also switches off the dropout that LoRA just added


def main(argv=None):
    start = time.perf_counter()
    cli = parse_args(argv)
    ckpt, state = load_checkpoint(cli.resume or cli.checkpoint) if cli.resume or cli.checkpoint else (None, None)
    if cli.resume:  # continue writing into the run dir that holds the checkpoint
        args = dataclasses.replace(resume_args(cli, state["args"]), run_dir=str(ckpt.parent))
    elif cli.eval_only and state:  # on its own env and task, or on --env / --task (transfer: grid -> miniworld)
        saved, env = state["args"], cli.env if cli.env != Args.env else state["args"]["env"]
        task = cli.task or (saved["task"] if env == saved["env"] else envs.DEFAULT_TASKS.get(env, ""))
        args = dataclasses.replace(Args(**saved), eval_only=True, checkpoint=cli.checkpoint, eval_episodes=cli.eval_episodes,
                                   env=env, task=task, device=resolve(cli).device)  # evaluate here
    else:
        args = resolve(cli)
    if cli.resume and len(state.get("ranks", ())) != (world := int(os.environ.get("WORLD_SIZE", 1))):  # none: an older vldac's
        raise SystemExit(f"error: {ckpt} holds the state of {len(state.get('ranks', ()))} processes; resume it with as many, not {world}")
    if cli.resume and state["update"] >= args.total_timesteps // (args.num_envs * args.num_steps):  # killed as it ended
        print(f"{args.run_dir} ended at update {state['update']}: nothing to resume")
        return json.loads((Path(args.run_dir) / "metrics.jsonl").read_text().splitlines()[-1])
    if not cli.resume and not args.eval_only and any((Path(args.run_dir) / f).exists() for f in ("metrics.jsonl", "latest")):
        raise SystemExit(f"error: {args.run_dir} already holds a run: continue it with --resume {args.run_dir}, or choose another --run-dir")
    args = init_distributed(args)
    rank, world = rank_world()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    try:
        env = make_env(args, args.num_envs, args.seed)
    except ValueError as e:  # unknown env/task or a bad env option
        raise SystemExit(f"error: {e}") from None
    env.reset(seed=args.seed)
    try:  # every rank builds the same policy: the same seed, the same (global) envs
        policy = build_policy(args, env, ckpt, rng, state)
    except OSError as e:  # --model is neither a model folder nor a reachable hub id
        raise SystemExit(f"error: cannot load --model {args.model}: {e}") from None
    shard = args.num_envs // world
    if world > 1:  # then steps its own shard of the envs (env i keeps seed + i), with its own randomness
        env.close()
        env, rng = make_env(args, shard, args.seed + rank * shard), np.random.default_rng([args.seed, rank])
        torch.manual_seed(int(rng.integers(2**62)))
    env.reset(seed=args.seed + rank * shard)
    if args.eval_only:
        result = {mode: evaluate(args, policy, args.eval_episodes, greedy=mode == "greedy") for mode in ("sampled", "greedy")}
        if rank == 0:
            print(json.dumps(result, indent=1))
            if ckpt:
                (ckpt / "eval.json").write_text(json.dumps(result, indent=1))
        return result

    run_dir = Path(args.run_dir)
    if rank == 0:  # rank 0 writes the run dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=1))
            for log in ("metrics.jsonl", "transcripts.jsonl"):  # drop what a killed run logged after its checkpoint
                if state and (run_dir / log).exists():
                    lines = (run_dir / log).read_text().splitlines(keepends=True)
                    (run_dir / log).write_text("".join(line for line in lines if line.endswith("\n") and
                                                       json.loads(line)["update"] <= state["update"]))
        except OSError as e:
            raise SystemExit(f"error: cannot write the run dir {run_dir}: {e}")
        print(json.dumps(dataclasses.asdict(args)))
    policy.freeze_reference()
    # the value warm-up leaves the actor's weights unused: find_unused_parameters keeps their gradients None
    ddp = nn.parallel.DistributedDataParallel(policy, find_unused_parameters=True) if dist.is_initialized() else None

    batch_size = args.num_envs * args.num_steps
    num_updates = args.total_timesteps // batch_size
    optimizer = make_optimizer(args, policy)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, list(lr_schedule(args, num_updates)))
    first, global_step, lost = 1, 0, 0
    if state:  # exact resume: everything that the next update depends on
        if policy.reference is not None:
            policy.reference.load_state_dict(state["reference"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        mine = state["ranks"][rank]
        if mine["env"] is None:  # new episodes (on new seeds): such a resume is not bitwise the uninterrupted run
            env.reset(seed=args.seed + rank * shard + 7919 * state["update"])
        else:
            env.set_snapshot(mine["env"])
        rng.bit_generator.state = mine["rng"]["numpy"]
        torch.set_rng_state(mine["rng"]["torch"])
        if mine["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(mine["rng"]["cuda"])
        first, global_step = state["update"] + 1, state["global_step"]
    writer = tracker = None
    with contextlib.suppress(ImportError):  # tensorboard is optional; metrics.jsonl is always written
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(run_dir)) if rank == 0 else None
    if args.track and rank == 0:  # a resumed run continues the same W&B run (its id comes from the run dir)
        import wandb
        tracker = wandb.init(project=args.track, dir=str(run_dir), config=dataclasses.asdict(args), resume="allow",
                             id=hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16])
    bar = tqdm(range(first, num_updates + 1), desc="updates", initial=first - 1, total=num_updates, disable=rank > 0 or None)
    logs = [run_dir / name if rank == 0 else os.devnull for name in ("metrics.jsonl", "transcripts.jsonl")]
    with open(logs[0], "a") as metrics_file, open(logs[1], "a") as transcripts:
        def log(m):
            metrics_file.write(json.dumps(m) + "\n")
            metrics_file.flush()
            if writer:
                for k, v in m.items():
                    writer.add_scalar(k, v, m["global_step"])
            if tracker:
                tracker.log(m, step=m["global_step"])

        if first == 1 and (args.eval_every or policy.perception):  # the starting level: the policy before any update
            log({"global_step": 0, "update": 0, "time/elapsed": time.perf_counter() - start,
                 **{f"perception/{k}": v for k, v in policy.perception.items()},
                 **{f"eval/{k}": v for k, v in (evaluate(args, policy, args.eval_episodes) if args.eval_every else {}).items()}})
        for update_idx in bar:
            tic = time.perf_counter()
            buf, next_value, data, times = rollout(args, policy, env, rng)
            global_step += batch_size
            t_score = time.perf_counter()
            minibatches = plan_minibatches(args, shard * args.num_steps, rng)
            score_rollout(args, policy, data, buf["values"], minibatches[0])
            if args.loss == "rl4vlm":
                data["thought_mask"] = [policy.thought_mask(r) for r in data["replies"]]
            times["score"] = time.perf_counter() - t_score
            advantages, returns = compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"],
                                              next_value, args.gamma, args.gae_lambda,
                                              buf["final_values"] if args.truncation_bootstrap else None)
            t_upd = time.perf_counter()
            m = update(args, policy, optimizer, data, advantages, returns, buf["values"],
                       warmup=update_idx <= args.value_warmup_updates, minibatches=minibatches, ddp=ddp)
            times["update"] = time.perf_counter() - t_upd
            scheduler.step()
            episodes = gather(data["episodes"])
            m.update({
                "global_step": global_step, "update": update_idx, "time/elapsed": time.perf_counter() - start,
                "charts/learning_rate": optimizer.param_groups[0]["lr"],
                "charts/SPS": batch_size / (time.perf_counter() - tic),
                "charts/invalid_action_rate": float(1 - np.mean(gather(buf["valid"].reshape(-1).tolist()))),
                "charts/reply_tokens": float(np.mean(gather([len(r) for r in data["replies"]]))),
                "charts/episodes": len(episodes),
                "charts/success_rate": float(np.mean([s for _, s in episodes])) if episodes else float("nan"),
                "charts/episodic_return": float(np.mean([r for r, _ in episodes])) if episodes else float("nan"),
                **{f"time/{k}": v for k, v in times.items()}})
            last = update_idx == num_updates
            if last or (args.eval_every and update_idx % args.eval_every == 0):
                m.update({f"eval/{k}": v for k, v in evaluate(args, policy, args.eval_episodes).items()})
            log(m)
            if args.transcripts_every and (update_idx % args.transcripts_every == 0 or last):
                for i, text in enumerate(policy.decode(data["replies"][: min(4, env.num_envs)])):  # step 0's
                    transcripts.write(json.dumps({"update": update_idx, "env": i, "prompt": data["prompt_texts"][i],
                                                  "reply": text, "action": data["actions"][i], "valid": bool(
                                                      buf["valid"][0, i]), "reward": float(buf["rewards"][0, i])}) + "\n")
                transcripts.flush()
            lost = lost + 1 if m["losses/nonfinite_skips"] == args.update_epochs * args.num_minibatches else 0
            if last or lost == 2 or (args.checkpoint_every and update_idx % args.checkpoint_every == 0):
                save_checkpoint(run_dir, policy, optimizer, scheduler, env, rng, update_idx, global_step)
            if lost == 2:  # the weights are the last finite ones: resume from here with a lower LR, say
                raise SystemExit(f"error: updates {update_idx - 1}-{update_idx} had only non-finite gradients; see {run_dir}")
            bar.set_postfix(SPS=f"{m['charts/SPS']:.0f}", success=f"{m['charts/success_rate']:.2f}")
            if rank == 0:
                tqdm.write(" ".join(f"{k.split('/')[-1]}={v:.4g}" for k, v in m.items() if not k.startswith("time/")))
    env.close()
    if tracker:
        tracker.finish()
    if dist.is_initialized():
        dist.destroy_process_group()
    return m


if __name__ == "__main__":
    main()
