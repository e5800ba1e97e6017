"""A MAGE / MaskGIT-style bidirectional transformer over VQ tokens, built from timm ViT blocks.

Layout (names as in MAGE, so its released weights map one to one): `token_emb` (word + learned position
embeddings, LayerNorm, dropout), encoder `blocks` + `norm`, then `decoder_embed`, `decoder_pos_embed_learned`,
`decoder_blocks`, `decoder_norm` and `mlm_layer`, whose output projection is the (detached) word embedding matrix.
The sequence is a class token followed by the L image tokens. Masked tokens enter the encoder as the [MASK]
word; in the decoder their positions take the class token's output, as in MAGE.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from iguln.models.positions import sincos_positions


class TokenEmbedding(nn.Module):
    """Word + learned position embeddings, LayerNorm and dropout: tokens [B, L+1] -> [B, L+1, D]."""

    def __init__(self, vocab_size: int, dim: int, positions: int, dropout: float):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, dim)
        self.position_embeddings = nn.Embedding(positions, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-6)  # noqa: N815 - MAGE's (BERT's) name, kept for its weights
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.word_embeddings.weight, std=0.02)
        with torch.no_grad():  # learned, but started from 2-D sin-cos positions at the words' scale
            grid = int(round((positions - 1) ** 0.5))
            self.position_embeddings.weight.copy_(0.02 * math.sqrt(2) * sincos_positions(grid, dim)[0])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.dropout(self.LayerNorm(self.word_embeddings(tokens) + self.position_embeddings(positions)))


class MlmLayer(nn.Module):
    """Decoder features [B, L+1, Dd] -> logits over the vocabulary [B, L+1, V] through the word embeddings."""

    def __init__(self, decoder_dim: int, dim: int, vocab_size: int):
        super().__init__()
        self.fc = nn.Linear(decoder_dim, dim)
        self.gelu = nn.GELU()
        self.ln = nn.LayerNorm(dim)
        self.bias = nn.Parameter(torch.zeros(1, 1, vocab_size))

    def forward(self, x: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return self.ln(self.gelu(self.fc(x))) @ word_embeddings.t() + self.bias


class TokenTransformer(nn.Module):
    """Fills masked token positions: token indices [B, L] + mask [B, L] -> logits [B, L, codebook_size]."""

    def __init__(
        self,
        codebook_size: int,
        length: int,
        hidden_size: int,
        depth: int,
        num_heads: int,
        decoder_hidden_size: int,
        decoder_depth: int,
        decoder_num_heads: int,
        mlp_ratio: float = 4.0,
        class_tokens: int = 1,
        cls_label: int | None = None,
        embed_dropout: float = 0.1,
    ):
        super().__init__()
        self.codebook_size, self.length = codebook_size, length
        vocab_size = codebook_size + class_tokens + 1  # codebook, class labels, [MASK]
        self.mask_label = vocab_size - 1
        self.cls_label = codebook_size if cls_label is None else cls_label
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.token_emb = TokenEmbedding(vocab_size, hidden_size, length + 1, embed_dropout)
        self.blocks = nn.ModuleList(
            Block(hidden_size, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm) for _ in range(depth)
        )
        self.norm = norm(hidden_size)
        self.decoder_embed = nn.Linear(hidden_size, decoder_hidden_size)
        grid = int(round(length**0.5))
        self.decoder_pos_embed_learned = nn.Parameter(0.02 * math.sqrt(2) * sincos_positions(grid, decoder_hidden_size))
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_hidden_size, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(decoder_depth)
        )
        self.decoder_norm = norm(decoder_hidden_size)
        self.mlm_layer = MlmLayer(decoder_hidden_size, hidden_size, vocab_size)

    def encoder_modules(self) -> nn.ModuleList:
        """The paper's encoder: token embedding + encoder blocks + norm."""
        return nn.ModuleList([self.token_emb, self.blocks, self.norm])

    def sequence(self, tokens: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """Tokens [B, L] with masked positions [B, L] set to [MASK], the class token first: [B, L+1]."""
        body = torch.where(masked, torch.full_like(tokens, self.mask_label), tokens)
        return torch.cat([torch.full_like(body[:, :1], self.cls_label), body], dim=1)

    def encode(self, tokens: torch.Tensor, masked: torch.Tensor, dropped: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder features of tokens [B, L] whose `masked` positions are hidden: [B, L+1, D], or [B, 1 + kept, D]
        with the `dropped` positions [B, L] (the same number per row) left out of the sequence, as MAGE does."""
        x = self.token_emb(self.sequence(tokens, masked))
        if dropped is not None:
            keep = ~F.pad(dropped, (1, 0), value=False)
            x = x[keep].view(x.shape[0], -1, x.shape[-1])
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def decoder_input(
        self, features: torch.Tensor, masked: torch.Tensor, dropped: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The encoder features [B, L+1, D] (or [B, 1 + kept, D] with `dropped`) as the decoder reads them: every
        masked or dropped position [B, L] takes the class token's output, so only the class token and the
        visible tokens reach the decoder: [B, L+1, D]."""
        if dropped is not None:
            keep = ~F.pad(dropped, (1, 0), value=False)
            padded = features[:, :1].expand(-1, keep.shape[1], -1).clone()
            padded[keep] = features.reshape(-1, features.shape[-1])
            features = padded
        hidden = F.pad(masked, (1, 0), value=False).unsqueeze(-1)
        return torch.where(hidden, features[:, :1].expand_as(features), features)

    def decode(
        self, features: torch.Tensor, masked: torch.Tensor, dropped: torch.Tensor | None = None, full: bool = False
    ) -> torch.Tensor:
        """Logits over the codebook [B, L, K] from encoder features (dropped positions are filled with the class
        token's output, as masked ones are); full: every position and the whole vocabulary [B, L+1, V]."""
        x = self.decoder_embed(self.decoder_input(features, masked, dropped)) + self.decoder_pos_embed_learned
        for block in self.decoder_blocks:
            x = block(x)
        logits = self.mlm_layer(self.decoder_norm(x), self.token_emb.word_embeddings.weight.detach())
        return logits if full else logits[:, 1:, : self.codebook_size]

    def forward(self, tokens: torch.Tensor, masked: torch.Tensor, dropped: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(tokens, masked, dropped), masked, dropped)
