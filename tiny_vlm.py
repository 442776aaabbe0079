"""The built-in offline VLM of vldac (`--model tiny`): a ~0.6M-parameter Qwen2-VL made in code, with a
tokenizer trained in code, on the real Qwen2-VL processor, chat template and generate path. No download."""

QWEN_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                       "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_vlm(corpus, vocab_size=512, hidden=128, layers=2, heads=4, vision_depth=2, vision_dim=64, tokenizer_dir=None):
    """A ~0.6M-parameter Qwen2-VL made in code (no download): a byte-level BPE tokenizer of at most
    `vocab_size` tokens trained on `corpus` (or loaded from tokenizer_dir), the real Qwen2-VL processor / chat template / generate
    path, random weights."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    if tokenizer_dir:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    else:
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer, bpe.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
        bpe.train_from_iterator(corpus, trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=QWEN_SPECIAL_TOKENS, show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left",
            chat_template=TINY_CHAT_TEMPLATE, extra_special_tokens=QWEN_SPECIAL_TOKENS[1:2] + QWEN_SPECIAL_TOKENS[3:])

    processor = image_only_processor(Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=112 * 112), tokenizer,
                                     TINY_CHAT_TEMPLATE)
    ids = tokenizer.convert_tokens_to_ids
    half = hidden // heads // 2  # mrope sections (temporal, height, width) must sum to head_dim / 2
    mrope = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]
    config = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads // 2,
                         bos_token_id=ids("<|endoftext|>"),
                         eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"),
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope}),
        vision_config=dict(depth=vision_depth, embed_dim=vision_dim, hidden_size=hidden, num_heads=4, mlp_ratio=2),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    return Qwen2VLForConditionalGeneration(config), processor


def image_only_processor(image_processor, tokenizer, chat_template):
    """Qwen2-VL's processor without the video processor it insists on (which needs torchvision)."""
    from transformers.models.qwen2_vl import Qwen2VLProcessor

    class ImageOnlyProcessor(Qwen2VLProcessor):
        def __init__(self, image_processor, tokenizer, chat_template=None):
            super().__init__(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template)
    return ImageOnlyProcessor(image_processor, tokenizer, chat_template)
