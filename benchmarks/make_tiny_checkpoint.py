"""Write a tiny, randomly initialised Qwen2.5-VL (or Qwen2-VL) checkpoint folder laid out like a hub
download: config, safetensors weights, tokenizer with chat template, image processor config. It lets
the `--model <path>` path (from_pretrained, LoRA via peft, bf16 on CUDA) run offline in seconds.

    python benchmarks/make_tiny_checkpoint.py /tmp/tiny-qwen2.5-vl
    python vldac.py --model /tmp/tiny-qwen2.5-vl --total-timesteps 256
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
import vldac  # noqa: E402


def make_tiny_checkpoint(path, arch="qwen2_5_vl", seed=0):
    """The built-in tiny Qwen2-VL (its tokenizer, text model and special tokens); for qwen2_5_vl the same
    text model under Qwen2.5-VL's windowed vision tower. The weights depend only on `seed`."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    torch.manual_seed(seed)
    env = envs.make("gymcards/numberline", 4, seed=0)
    env.reset(seed=0)
    corpus = [env.prompt(i)[1] for i in range(4)] + [vldac.reply_text("", s) for s in env.action_symbols] * 8
    model, processor = vldac.build_tiny_vlm(corpus)
    tok, processor_class = processor.tokenizer, "Qwen2VLProcessor"
    if arch == "qwen2_5_vl":  # windowed vision attention with one full-attention block, as the real one
        text = {k: v for k, v in model.config.text_config.to_dict().items() if k != "model_type"}
        special = {k: getattr(model.config, k) for k in
                   ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")}
        config = Qwen2_5_VLConfig(text_config=text, vision_config=dict(
            depth=2, hidden_size=64, intermediate_size=128, num_heads=4, out_hidden_size=text["hidden_size"],
            fullatt_block_indexes=[1], window_size=56), **special)
        model, processor_class = Qwen2_5_VLForConditionalGeneration(config), "Qwen2_5_VLProcessor"
    elif arch != "qwen2_vl":
        raise ValueError(f"arch must be qwen2_5_vl or qwen2_vl, not {arch!r}")
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    processor.image_processor.save_pretrained(path)
    for name in ("preprocessor_config.json", "tokenizer_config.json"):  # name the real processor, as the hub's do
        cfg = json.loads((path / name).read_text())
        cfg["processor_class"] = processor_class
        (path / name).write_text(json.dumps(cfg, indent=2))
    return path


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path")
    p.add_argument("--arch", default="qwen2_5_vl", choices=["qwen2_5_vl", "qwen2_vl"])
    a = p.parse_args()
    print(make_tiny_checkpoint(a.path, a.arch))
