"""The VQ-GAN family (MAGE, as in the paper): a VQ-GAN tokenizer and a bidirectional token transformer that fills
masked tokens by iterative decoding. Encoder for unlearning: token embedding + encoder blocks + norm; the
tokenizer and the transformer's decoder stay frozen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from iguln.core import seeding
from iguln.core.errors import ConfigError, MissingArtefactError, number_in, positive_int
from iguln.data.masks import coarse_mask, random_rectangles
from iguln.models.generator import Generator, Stage
from iguln.models.vqgan.decoding import iterative_fill
from iguln.models.vqgan.discriminator import PatchDiscriminator, hinge_discriminator_loss
from iguln.models.vqgan.perceptual import load_perceptual, perceptual_distance
from iguln.models.vqgan.reference import mage_transformer_state, maskgit_tokenizer_state, split_mage_checkpoint
from iguln.models.vqgan.token_mask import TokenMask, decoding_states, mage_masks
from iguln.models.vqgan.tokenizer import Tokenizer
from iguln.models.vqgan.transformer import TokenTransformer
from iguln.models.weights import read_weights

PERCEPTUAL = ("auto", "on", "off")
MAGE_PIXELS = (0.0, 1.0)  # MaskGIT's VQ-GAN in MAGE's code: ToTensor() images in, clip(x * 255) out


def _arch(
    image_size,
    channels,
    layers,
    latent,
    codebook,
    groups,
    hidden,
    depth,
    heads,
    dec_hidden,
    dec_depth,
    dec_heads,
    class_tokens=1,
    cls_label=None,
) -> dict:
    return {
        "image_size": image_size,
        "tokenizer": {
            "block_out_channels": channels,
            "layers_per_block": layers,
            "latent_channels": latent,
            "codebook_size": codebook,
            "norm_num_groups": groups,
            "mid_attention": False,
        },
        "transformer": {
            "hidden_size": hidden,
            "depth": depth,
            "num_heads": heads,
            "decoder_hidden_size": dec_hidden,
            "decoder_depth": dec_depth,
            "decoder_num_heads": dec_heads,
            "mlp_ratio": 4.0,
            "class_tokens": class_tokens,
            "cls_label": cls_label,
            "embed_dropout": 0.1,
        },
    }


def vqgan_micro() -> dict:
    """A few thousand parameters: tests only."""
    return _arch(32, [8, 8, 16], 1, 8, 32, 4, 32, 1, 2, 32, 1, 2)


def vqgan_tiny() -> dict:
    """32 px, 4x downsampling (8x8 tokens), 256 codes: both stages train on a 2-core CPU in minutes."""
    return _arch(32, [16, 32, 32], 1, 32, 256, 8, 128, 3, 4, 96, 2, 4)


def vqgan_mage_base() -> dict:
    """MAGE ViT-B at 256 px: 16x16 tokens from MaskGIT's 1,024-code VQ-GAN, a 12-block encoder, an 8-block decoder."""
    return _arch(256, [128, 128, 256, 256, 512], 2, 256, 1024, 32, 768, 12, 12, 768, 8, 16, 1000, 1100)


class VQGAN(Generator):
    family = "vqgan"
    paper = True
    options = ("mask_ratio", "block_masks", "label_smoothing", "tokenizer", "pixel_range", "token_drop")
    neutral = {"pixel_range": None, "token_drop": False}
    # MAGE's unlearning code weights its terms by (1 + label) and (1 - label) (2 on the term's own images); its
    # MAX LOSS and NOISY LABEL by half that.
    reference_weights = {"l2_noise": 2.0, "random_encoder": 2.0, "retain_label": 2.0}
    generation = ("decode",)
    presets = {"micro": vqgan_micro(), "tiny": vqgan_tiny(), "mage_base": vqgan_mage_base()}
    recipes = ("model.tokenizer.pretrain", "model.pretrain")

    @classmethod
    def check_config(cls, cfg) -> None:
        def number(key: str, value, low: float, high: float) -> None:
            number_in(f"model.{key}", value, low, high)

        if cfg.tokenizer.perceptual not in PERCEPTUAL:
            raise ConfigError("model.tokenizer.perceptual", cfg.tokenizer.perceptual, PERCEPTUAL)
        positive_int("model.decode.iterations", cfg.decode.iterations)
        number("decode.temperature", cfg.decode.temperature, 1e-3, 1e3)
        number("decode.choice_temperature", cfg.decode.choice_temperature, 0.0, 1e3)
        number("mask_ratio.min", cfg.mask_ratio.min, 1e-3, 1.0)
        number("mask_ratio.std", cfg.mask_ratio.std, 1e-3, 10.0)
        number("block_masks", cfg.block_masks, 0.0, 1.0)
        number("label_smoothing", cfg.label_smoothing, 0.0, 0.99)
        number("tokenizer.beta", cfg.tokenizer.beta, 0.0, 10.0)
        number("tokenizer.adversarial_start", cfg.tokenizer.adversarial_start, 0.0, 1.0)

    @classmethod
    def resolve_options(cls, cfg) -> None:
        """model.pixel_range null: [0, 1] when MaskGIT's VQ-GAN is imported (MAGE's weights), else [-1, 1]."""
        if cfg.get("pixel_range") is None and (cfg.get("pretrained") or cfg.get("pretrained_tokenizer")):
            cfg.pixel_range = list(MAGE_PIXELS)

    def __init__(
        self,
        arch: dict,
        mask_ratio: dict,
        block_masks: float,
        label_smoothing: float,
        tokenizer: dict,
        pixel_range: list | None = None,
        token_drop: bool = False,
    ):
        super().__init__(
            arch,
            mask_ratio=mask_ratio,
            block_masks=block_masks,
            label_smoothing=label_smoothing,
            tokenizer=tokenizer,
            pixel_range=pixel_range,
            token_drop=token_drop,
        )
        pixels = tuple(pixel_range) if pixel_range is not None else (-1.0, 1.0)
        self.tokenizer = Tokenizer(arch["image_size"], arch["num_channels"], **arch["tokenizer"], pixel_range=pixels)
        self.tokenizer.requires_grad_(False)  # trained in its own stage only
        self.grid, self.factor = self.tokenizer.grid, self.tokenizer.factor
        self.transformer = TokenTransformer(arch["tokenizer"]["codebook_size"], self.grid**2, **arch["transformer"])
        self.generation_values = {"iterations": 8, "temperature": 1.0, "choice_temperature": 4.5}

    def configure_generation(self, decode: dict | None = None, **values) -> None:
        self.generation_values.update(decode or {}, **values)

    @property
    def encoder(self) -> nn.Module:
        return self.transformer.encoder_modules()

    def pixel_space(self) -> dict:
        return {"range": [self.tokenizer.low, self.tokenizer.high]}

    def token_mask(self, mask: torch.Tensor, batch: int) -> torch.Tensor:
        """Pixel mask -> token mask [batch, L]: every token whose pixels touch the mask is masked."""
        return coarse_mask(mask, self.factor, batch)

    def tokens_of(self, mask: torch.Tensor | TokenMask, batch: int, device) -> TokenMask:
        """A pixel mask [B or 1, 1, H, W] as a token mask (nothing dropped), or a TokenMask as it is."""
        if isinstance(mask, TokenMask):
            return mask.to(device)
        return TokenMask(self.token_mask(mask, batch).to(device))

    def training_masks(self, batch: int, generator: torch.Generator | None = None) -> TokenMask:
        """Pretraining masks for `batch` images: a random rectangle of tokens (model.block_masks of the batches),
        or MAGE's random masking, with dropped tokens when model.token_drop is true."""
        if torch.rand(1, generator=generator).item() < self.option_values["block_masks"]:
            return TokenMask(random_rectangles(batch, self.grid, generator))
        drop = bool(self.option_values.get("token_drop"))
        return mage_masks(batch, self.grid**2, self.option_values["mask_ratio"], drop, generator)

    def decoding_masks(self, mask: torch.Tensor, batch: int, generator: torch.Generator | None = None) -> TokenMask:
        """The encoder's inputs during iterative decoding of the task's pixel mask [1, 1, H, W], one per image: each
        image a round of model.decode.iterations with that round's share of the masked tokens still hidden
        (token_mask.decoding_states)."""
        masked = self.token_mask(mask, batch)
        return decoding_states(masked, int(self.generation_values["iterations"]), generator)

    def share_frozen(self, passes) -> dict[str, torch.Tensor] | None:
        """Let the frozen tokenizer keep its token ids in `passes` (a FrozenPasses, or None to stop), shared with a
        copy that holds the same weights; returns those weights, for the caller to compare (None, keeping nothing,
        while the tokenizer trains)."""
        if any(p.requires_grad for p in self.tokenizer.parameters()):
            self.tokenizer.passes = None
            return None
        self.tokenizer.passes = passes
        return self.tokenizer.state_dict()

    # -- the interface ----------------------------------------------------------------------------------------

    def encode(self, x: torch.Tensor, mask: torch.Tensor | TokenMask, probe=None) -> torch.Tensor:
        """Encoder token features [B, L+1, hidden] (class token first) of x's tokens, masked tokens hidden; with a
        TokenMask that drops tokens, [B, 1 + kept, hidden] as MAGE's encoder returns."""
        tokens = self.tokenizer.encode_indices(x)
        m = self.tokens_of(mask, x.shape[0], tokens.device)
        return self.transformer.encode(tokens, m.masked, m.dropped)

    def decoder_view(self, features: torch.Tensor, mask: torch.Tensor | TokenMask) -> torch.Tensor:
        """Encoder features of `encode` as the frozen decoder reads them: each hidden (masked or dropped) position
        takes the class token's output, the output the decoder puts there, so the class token counts once for
        itself and once for every hidden position it fills: [B, L+1, hidden]."""
        m = self.tokens_of(mask, features.shape[0], features.device)
        return self.transformer.decoder_input(features, m.masked, m.dropped)

    def generate(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Fill the masked tokens by iterative decoding, decode, and paste: unmasked pixels are x's own."""
        tokens = self.tokenizer.encode_indices(x)
        fill = self.token_mask(mask, x.shape[0]).to(tokens.device)
        settings = self.generation_values
        filled = iterative_fill(
            self.transformer,
            tokens,
            fill,
            settings["iterations"],
            settings["temperature"],
            settings["choice_temperature"],
            generator,
        )
        with torch.no_grad():
            image = self.tokenizer.decode_indices(filled).to(x.dtype)
        return torch.where(mask.bool().expand_as(x), image, x)

    def output(self, x: torch.Tensor, mask: torch.Tensor | TokenMask, probe=None, full: bool = False) -> torch.Tensor:
        """The transformer's token logits at the masked positions: [B, M, codebook_size]; full: at every position,
        the class token's included, over the whole vocabulary [B, L+1, V] (what the reference's RETAIN LABEL
        compares)."""
        tokens = self.tokenizer.encode_indices(x)
        m = self.tokens_of(mask, x.shape[0], tokens.device)
        features = self.transformer.encode(tokens, m.masked, m.dropped)
        logits = self.transformer.decode(features, m.masked, m.dropped, full=full)
        if full:
            return logits
        return logits[m.masked].view(x.shape[0], -1, self.tokenizer.codebook_size)

    def native_loss(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | TokenMask | None = None,
        generator: torch.Generator | None = None,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """MAGE's objective: label-smoothed cross-entropy of the true tokens at the masked positions (dropped ones
        included). mask None: the pretraining masks. target: token ids [B, L] the masked positions are trained
        towards instead (default x's own tokens)."""
        tokens = self.tokenizer.encode_indices(x)
        m = self.training_masks(x.shape[0], generator) if mask is None else mask
        m = self.tokens_of(m, x.shape[0], tokens.device)
        logits = self.transformer(tokens, m.masked, m.dropped)
        labels = tokens if target is None else target.to(tokens.device)
        return F.cross_entropy(
            logits[m.masked].float(), labels[m.masked], label_smoothing=self.option_values["label_smoothing"]
        )

    def noisy_label_loss(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        mask: torch.Tensor | TokenMask,
        generator: torch.Generator | None = None,
        form: str = "iguln",
        population: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """NOISY LABEL for tokens: the masked positions are trained towards random token ids: uniform over the
        codebook (form iguln), or, as the reference, N(mean, std) of the token ids of the step's images
        (`population`, default x), rounded and clamped to the codebook (form reference). The noise image is not
        used: token ids have no pixels."""
        shape = (x.shape[0], self.grid**2)
        if form == "reference":
            tokens = self.tokenizer.encode_indices(x if population is None else population).float()
            sample = seeding.standard_normal(shape, generator).to(tokens.device)
            labels = (sample * tokens.std() + tokens.mean()).clamp(0, self.tokenizer.codebook_size - 1).round()
            labels = labels.long()
        else:
            labels = torch.randint(0, self.tokenizer.codebook_size, shape, generator=generator)
        return self.native_loss(x, mask, generator, target=labels)

    # -- released weights and pretraining ---------------------------------------------------------------------

    def load_pretrained(self, cfg) -> dict:
        """MAGE's checkpoint (model.pretrained) and, if it lacks one, the VQ-GAN's (model.pretrained_tokenizer)."""
        transformer_part, tokenizer_part = split_mage_checkpoint(read_weights(cfg.pretrained, "model.pretrained"))
        if cfg.get("pretrained_tokenizer"):
            tokenizer_part = read_weights(cfg.pretrained_tokenizer, "model.pretrained_tokenizer")
        if not tokenizer_part:
            raise MissingArtefactError(
                f"model.pretrained={cfg.pretrained} holds no tokenizer weights (no 'vqgan.' keys): give the VQ-GAN "
                "checkpoint as model.pretrained_tokenizer=PATH (MAGE's vqgan_jax_strongaug.ckpt)."
            )
        self.transformer.load_state_dict(mage_transformer_state(transformer_part, self.transformer))
        self.tokenizer.load_state_dict(maskgit_tokenizer_state(tokenizer_part, self.tokenizer))
        return {"transformer": str(cfg.pretrained), "tokenizer": str(cfg.get("pretrained_tokenizer") or cfg.pretrained)}

    def pretraining_stages(self) -> list[Stage]:
        return [self._tokenizer_stage(), self._transformer_stage()]

    def _transformer_stage(self) -> Stage:
        params = list(self.transformer.parameters())
        return Stage(
            "transformer", "model.pretrain", {"transformer": params}, lambda x, g: (self.native_loss(x, None, g), {})
        )

    def _tokenizer_stage(self) -> Stage:
        settings = self.option_values["tokenizer"]
        tokenizer = self.tokenizer
        perceptual, perceptual_status = load_perceptual(settings["perceptual"])
        groups = {"tokenizer": list(tokenizer.parameters())}
        discriminator = None
        if settings["adversarial"]:
            discriminator = PatchDiscriminator(self.arch["num_channels"])
            groups["discriminator"] = list(discriminator.parameters())
        usage = torch.zeros(tokenizer.codebook_size)
        state = {"step": 0}

        def begin() -> None:
            tokenizer.requires_grad_(True)
            if discriminator is not None:
                discriminator.to(tokenizer.codebook.device)
            usage.data = usage.to(tokenizer.codebook.device)

        def loss(x: torch.Tensor, generator: torch.Generator):
            if state["step"] == 0 or (settings["restart_dead_codes"] and state["step"] % 50 == 0):
                restart_codes(tokenizer, x, usage, first=state["step"] == 0, generator=generator)
            state["step"] += 1
            x_rec, vq = tokenizer.reconstruct(x, settings["beta"])
            usage.mul_(0.9).add_(
                0.1 * torch.bincount(vq["indices"].flatten(), minlength=usage.numel()).float() / vq["indices"].numel()
            )
            rec = (x_rec - x).abs().mean()
            terms = {"l1": float(rec.detach()), "codebook": float(vq["codebook"].detach())}
            total = rec + vq["codebook"] + vq["commitment"]
            if perceptual is not None:
                p = perceptual_distance(perceptual.to(x.device), x_rec, x)
                total = total + settings["perceptual_weight"] * p
                terms["lpips"] = float(p.detach())
            if discriminator is None:
                return total, terms
            adversarial_on = state["step"] > settings["adversarial_start"] * settings["pretrain"]["steps"]
            weight = settings["adversarial_weight"] if adversarial_on else 0.0
            generator_term = -discriminator(x_rec).mean()
            critic = hinge_discriminator_loss(discriminator(x), discriminator(x_rec.detach()))
            terms.update(adversarial=float(generator_term.detach()), critic=float(critic.detach()))
            return {"tokenizer": total + weight * generator_term, "discriminator": critic * (weight > 0)}, terms

        def end(images: torch.Tensor) -> dict:
            tokenizer.requires_grad_(False)
            return reconstruction_report(tokenizer, images)

        def save_state() -> dict:
            saved = {"step": state["step"], "usage": usage.clone()}
            if discriminator is not None:
                saved["discriminator"] = discriminator.state_dict()
            return saved

        def load_state(saved: dict) -> None:
            state["step"] = int(saved["step"])
            usage.data = saved["usage"].to(usage.device)
            if discriminator is not None:
                discriminator.load_state_dict(saved["discriminator"])

        info = {"perceptual": perceptual_status, "adversarial": bool(settings["adversarial"])}
        return Stage("tokenizer", "model.tokenizer.pretrain", groups, loss, begin, end, info, save_state, load_state)


@torch.no_grad()
def restart_codes(
    tokenizer: Tokenizer, x: torch.Tensor, usage: torch.Tensor, first: bool, generator: torch.Generator | None
) -> int:
    """Move unused codebook entries onto encoder outputs of the batch x (all of them at the first step)."""
    z = tokenizer.latents(x)
    vectors = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    dead = torch.ones_like(usage, dtype=torch.bool) if first else usage < 1e-3 / usage.numel()
    count = int(dead.sum())
    if count:
        pick = torch.randint(0, vectors.shape[0], (count,), generator=generator).to(vectors.device)
        tokenizer.codebook.data[dead] = vectors[pick].to(tokenizer.codebook.dtype)
        usage[dead] = 1.0 / usage.numel()
    return count


@torch.no_grad()
def reconstruction_report(tokenizer: Tokenizer, images: torch.Tensor, batch_size: int = 250) -> dict:
    """Reconstruction quality of held-out images [N, C, H, W] in [-1, 1]: MSE, L1, PSNR (dB), codebook use."""
    tokenizer.eval()
    se = ae = 0.0
    counts = torch.zeros(tokenizer.codebook_size)
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(tokenizer.codebook.device)
        indices = tokenizer.encode_indices(x)
        x_rec = tokenizer.decode_indices(indices)
        se += float(((x_rec - x) ** 2).sum())
        ae += float((x_rec - x).abs().sum())
        counts += torch.bincount(indices.flatten().cpu(), minlength=counts.numel()).float()
    mse = se / images.numel()
    probs = counts / counts.sum()
    return {
        "images": len(images),
        "mse": round(mse, 6),
        "l1": round(ae / images.numel(), 6),
        "psnr_db": round(10 * math.log10(4.0 / mse), 3) if mse > 0 else None,  # pixel range [-1, 1]: peak 2
        "codes_used": int((counts > 0).sum()),
        "codebook_size": tokenizer.codebook_size,
        "perplexity": round(float(torch.exp(-(probs[probs > 0] * probs[probs > 0].log()).sum())), 2),
    }
