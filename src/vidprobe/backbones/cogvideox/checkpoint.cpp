#include "vidprobe/backbones/cogvideox/checkpoint.h"

namespace vidprobe::backbones::cogvideox {
namespace {

void add_linear(ShapeMap& layout, const std::string& prefix, int64_t in, int64_t out) {
  layout[prefix + ".weight"] = {out, in};
  layout[prefix + ".bias"] = {out};
}

void add_norm(ShapeMap& layout, const std::string& prefix, int64_t dim) {
  layout[prefix + ".weight"] = {dim};
  layout[prefix + ".bias"] = {dim};
}

void add_block(ShapeMap& layout, const std::string& prefix, const TransformerConfig& c) {
  const int64_t dim = c.dim();
  for (const char* norm : {"norm1", "norm2"}) {
    add_linear(layout, prefix + norm + ".linear", c.time_embed_dim, 6 * dim);
    add_norm(layout, prefix + norm + ".norm", dim);
  }
  for (const char* projection : {"to_q", "to_k", "to_v", "to_out.0"})
    add_linear(layout, prefix + "attn1." + projection, dim, dim);
  add_norm(layout, prefix + "attn1.norm_q", c.head_dim);
  add_norm(layout, prefix + "attn1.norm_k", c.head_dim);
  add_linear(layout, prefix + "ff.net.0.proj", dim, c.ff_dim());
  add_linear(layout, prefix + "ff.net.2", c.ff_dim(), dim);
}

void rename_block(TensorMap& t, const std::string& prefix) {
  for (const std::string part : {"weight", "bias"}) {
    const std::string attn = prefix + "attn1.";
    fuse_keys(t, {attn + "to_q." + part, attn + "to_k." + part, attn + "to_v." + part},
              attn + "qkv." + part);
    rename_key(t, attn + "to_out.0." + part, attn + "proj." + part);
    rename_key(t, attn + "norm_q." + part, attn + "q_norm." + part);
    rename_key(t, attn + "norm_k." + part, attn + "k_norm." + part);
    rename_key(t, prefix + "ff.net.0.proj." + part, prefix + "ff.fc1." + part);
    rename_key(t, prefix + "ff.net.2." + part, prefix + "ff.fc2." + part);
  }
}

}  // namespace

ShapeMap transformer_hub_layout(const TransformerConfig& c) {
  const int64_t dim = c.dim(), p = c.patch;
  ShapeMap layout;
  layout["patch_embed.proj.weight"] = {dim, c.in_channels, p, p};
  layout["patch_embed.proj.bias"] = {dim};
  add_linear(layout, "patch_embed.text_proj", c.text_embed_dim, dim);
  if (c.learned_positions) {
    const int64_t tokens =
        int64_t{c.sample_latent_frames()} * (c.sample_height / p) * (c.sample_width / p);
    layout["patch_embed.pos_embedding"] = {1, c.max_text_tokens + tokens, dim};
  }
  add_linear(layout, "time_embedding.linear_1", dim, c.time_embed_dim);
  add_linear(layout, "time_embedding.linear_2", c.time_embed_dim, c.time_embed_dim);
  for (int i = 0; i < c.layers; ++i)
    add_block(layout, "transformer_blocks." + std::to_string(i) + ".", c);
  add_norm(layout, "norm_final", dim);
  add_linear(layout, "norm_out.linear", c.time_embed_dim, 2 * dim);
  add_norm(layout, "norm_out.norm", dim);
  add_linear(layout, "proj_out", dim, p * p * c.out_channels);
  return layout;
}

std::string architecture_text(const TransformerConfig& c) {
  const std::string positions = c.learned_positions ? "RoPE + learned positions"
                                : c.rotary          ? "RoPE"
                                                    : "sin-cos positions";
  return "CogVideoX transformer (" + std::to_string(c.heads) + " heads x " +
         std::to_string(c.head_dim) + ", " + std::to_string(c.layers) + " blocks, " +
         std::to_string(c.in_channels) + " input channels, " + positions + ")";
}

TensorMap transformer_module_tensors(TensorMap checkpoint, const TransformerConfig& config,
                                     const std::string& source) {
  require_layout(checkpoint, transformer_hub_layout(config), source, architecture_text(config));
  for (int i = 0; i < config.layers; ++i)
    rename_block(checkpoint, "transformer_blocks." + std::to_string(i) + ".");
  return checkpoint;
}

void load_transformer(Transformer& model, TensorMap checkpoint, const std::string& source) {
  const auto tensors = transformer_module_tensors(std::move(checkpoint), model->config, source);
  load_module_strict(*model, tensors, source, architecture_text(model->config));
}

}  // namespace vidprobe::backbones::cogvideox
