#include "vidprobe/backbones/opensora/mmdit.h"

#include <algorithm>
#include <cmath>

#include "vidprobe/backbones/checkpoint_mapping.h"
#include "vidprobe/core/error.h"
#include "vidprobe/nn/linear.h"
#include "vidprobe/nn/residual_norm.h"
#include "vidprobe/nn/stage_meter.h"

namespace vidprobe::backbones::opensora {
namespace {

constexpr double kNormEps = 1e-6;
constexpr int64_t kTimeEmbedDim = 256;

// (1 + scale) * LayerNorm(stream) + shift, the stream first updated by `update` (the stream plus
// a gated branch): nn/residual_norm.h, one pass on a GPU. The update, the norm and the modulation
// are formed in float32 and rounded once each to the stream's dtype, where the official bf16 model
// rounds after every operation; in float32 the official operations in their order.
nn::NormedStream modulate(const nn::ResidualUpdate& update, const torch::Tensor& shift,
                          const torch::Tensor& scale) {
  return nn::modulated_layer_norm(update, 1 + scale, shift, kNormEps, update.stream.scalar_type());
}

torch::nn::Sequential gelu_mlp(int64_t dim, int64_t hidden) {
  return torch::nn::Sequential(vidprobe::nn::Linear(dim, hidden),
                               torch::nn::GELU(torch::nn::GELUOptions().approximate("tanh")),
                               vidprobe::nn::Linear(hidden, dim));
}

// gelu_mlp's forward, the first projection and its GELU as one (nn::linear_gelu_tanh: the GEMM's
// epilogue in bf16 on a GPU).
torch::Tensor run_gelu_mlp(const torch::nn::Sequential& mlp, const torch::Tensor& x) {
  const auto* fc1 = mlp->ptr(0)->as<vidprobe::nn::Linear>();
  auto* fc2 = mlp->ptr(2)->as<vidprobe::nn::Linear>();
  return fc2->forward(nn::linear_gelu_tanh(x, fc1->weight, fc1->bias));
}

// (B, L, D) projections -> (B, heads, L, head_dim), q and k RMS-normalised in v's dtype. The
// norms read the transposed views, which the runtime kernel (nn/head_norm.h) reads in place.
struct Heads {
  torch::Tensor q, k, v;
};
Heads split_heads(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                  QkNorm& norm, int64_t heads) {
  const auto to_heads = [heads](const torch::Tensor& x) {
    return x.unflatten(-1, {heads, -1}).transpose(1, 2);
  };
  const auto vh = to_heads(v);
  return {norm->query_norm(to_heads(q)).to(vh.scalar_type()),
          norm->key_norm(to_heads(k)).to(vh.scalar_type()), vh};
}

// Rotated scaled-dot-product attention over (B, heads, L, head_dim) -> (B, L, heads * head_dim).
torch::Tensor attend(const Heads& h, const nn::RotaryAngles& rotary) {
  const auto out = nn::attention(nn::apply_rotary(h.q, rotary), nn::apply_rotary(h.k, rotary), h.v);
  return out.transpose(1, 2).flatten(2);
}

// The two streams' heads joined along the tokens. q, k and v lie in the projections' (B, L, heads,
// head_dim) order (v a view of its projection; the runtime norm and rotary kernels keep their
// input's order), so the join happens in that order, where every input is contiguous, and is
// handed back transposed; joining the transposed views takes libtorch's strided concatenation.
Heads cat_heads(const Heads& a, const Heads& b) {
  const auto join = [](const torch::Tensor& x, const torch::Tensor& y) {
    return torch::cat({x.transpose(1, 2), y.transpose(1, 2)}, 1).transpose(1, 2);
  };
  return {join(a.q, b.q), join(a.k, b.k), join(a.v, b.v)};
}

}  // namespace

MlpEmbedderImpl::MlpEmbedderImpl(int64_t in, int64_t hidden)
    : in_layer(register_module("in_layer", vidprobe::nn::Linear(in, hidden))),
      out_layer(register_module("out_layer", vidprobe::nn::Linear(hidden, hidden))) {}

ModulationImpl::ModulationImpl(int64_t dim, bool double_stream)
    : lin(register_module("lin", vidprobe::nn::Linear(dim, (double_stream ? 6 : 3) * dim))),
      chunks(double_stream ? 6 : 3) {}

std::vector<torch::Tensor> ModulationImpl::forward(const torch::Tensor& vec) {
  return lin(torch::silu(vec)).unsqueeze(1).chunk(chunks, -1);
}

QkNormImpl::QkNormImpl(int64_t head_dim)
    : query_norm(register_module("query_norm", nn::RmsNorm(head_dim, kNormEps))),
      key_norm(register_module("key_norm", nn::RmsNorm(head_dim, kNormEps))) {}

StreamAttentionImpl::StreamAttentionImpl(int64_t dim, bool qkv_bias, int64_t head_dim) {
  const auto options = torch::nn::LinearOptions(dim, dim).bias(qkv_bias);
  q_proj = register_module("q_proj", vidprobe::nn::Linear(options));
  k_proj = register_module("k_proj", vidprobe::nn::Linear(options));
  v_proj = register_module("v_proj", vidprobe::nn::Linear(options));
  norm = register_module("norm", QkNorm(head_dim));
  proj = register_module("proj", vidprobe::nn::Linear(dim, dim));
}

DoubleStreamBlockImpl::DoubleStreamBlockImpl(const MmditConfig& c) : heads(c.num_heads) {
  const int64_t d = c.hidden_size;
  img_mod = register_module("img_mod", Modulation(d, true));
  img_attn = register_module("img_attn", StreamAttention(d, c.qkv_bias, c.head_dim()));
  img_mlp = register_module("img_mlp", gelu_mlp(d, c.mlp_hidden()));
  txt_mod = register_module("txt_mod", Modulation(d, true));
  txt_attn = register_module("txt_attn", StreamAttention(d, c.qkv_bias, c.head_dim()));
  txt_mlp = register_module("txt_mlp", gelu_mlp(d, c.mlp_hidden()));
}

DoubleStreamBlockImpl::Streams DoubleStreamBlockImpl::forward(nn::ResidualUpdate img,
                                                              nn::ResidualUpdate txt,
                                                              const torch::Tensor& vec,
                                                              const nn::RotaryAngles& rotary) {
  const auto im = img_mod(vec), tm = txt_mod(vec);  // shift, scale, gate; shift, scale, gate
  const auto img_in = modulate(std::exchange(img, {}), im[0], im[1]);
  const auto txt_in = modulate(std::exchange(txt, {}), tm[0], tm[1]);
  const auto& img_x = img_in.normed;
  const auto& txt_x = txt_in.normed;
  const auto img_heads = split_heads(img_attn->q_proj(img_x), img_attn->k_proj(img_x),
                                     img_attn->v_proj(img_x), img_attn->norm, heads);
  const auto txt_heads = split_heads(txt_attn->q_proj(txt_x), txt_attn->k_proj(txt_x),
                                     txt_attn->v_proj(txt_x), txt_attn->norm, heads);
  const auto joint = attend(cat_heads(txt_heads, img_heads), rotary);
  const int64_t text_tokens = txt_x.size(1);
  const auto img_mid =
      modulate({img_in.stream, img_attn->proj(joint.slice(1, text_tokens)), im[2]}, im[3], im[4]);
  const auto txt_mid = modulate(
      {txt_in.stream, txt_attn->proj(joint.slice(1, 0, text_tokens)), tm[2]}, tm[3], tm[4]);
  return {{img_mid.stream, run_gelu_mlp(img_mlp, img_mid.normed), im[5]},
          {txt_mid.stream, run_gelu_mlp(txt_mlp, txt_mid.normed), tm[5]}};
}

SingleStreamBlockImpl::SingleStreamBlockImpl(const MmditConfig& c)
    : heads(c.num_heads), hidden(c.hidden_size), mlp_hidden(c.mlp_hidden()) {
  q_proj = register_module("q_proj", vidprobe::nn::Linear(hidden, hidden));
  k_proj = register_module("k_proj", vidprobe::nn::Linear(hidden, hidden));
  v_mlp = register_module("v_mlp", vidprobe::nn::Linear(hidden, hidden + mlp_hidden));
  linear2 = register_module("linear2", vidprobe::nn::Linear(hidden + mlp_hidden, hidden));
  norm = register_module("norm", QkNorm(c.head_dim()));
  modulation = register_module("modulation", Modulation(hidden, false));
}

// v_mlp's one projection gives v and the MLP's hidden activations side by side, and GELU on that
// half-view took libtorch's strided element-wise kernel (42 ms of the transformer's 3,346 at 129
// frames on an H100, 2026-12-07). Where the GEMM's GELU epilogue applies, the two halves are two
// GEMMs instead, the second with its GELU in the epilogue; otherwise the published form.
std::pair<torch::Tensor, torch::Tensor> SingleStreamBlockImpl::value_and_mlp(
    const torch::Tensor& x) {
  const auto mlp_weight = v_mlp->weight.narrow(0, hidden, mlp_hidden);
  const auto mlp_bias = v_mlp->bias.narrow(0, hidden, mlp_hidden);
  if (!nn::gelu_epilogue_applies(x, mlp_weight, mlp_bias)) {
    const auto v_and_mlp = v_mlp(x).split({hidden, mlp_hidden}, -1);
    return {v_and_mlp[0], torch::gelu(v_and_mlp[1], "tanh")};
  }
  nn::count_linear_flops(x, hidden);
  return {torch::linear(x, v_mlp->weight.narrow(0, 0, hidden), v_mlp->bias.narrow(0, 0, hidden)),
          nn::linear_gelu_tanh(x, mlp_weight, mlp_bias)};
}

nn::ResidualUpdate SingleStreamBlockImpl::forward(nn::ResidualUpdate x, const torch::Tensor& vec,
                                                  const nn::RotaryAngles& rotary) {
  const auto mod = modulation(vec);  // shift, scale, gate
  const auto modulated = modulate(std::exchange(x, {}), mod[0], mod[1]);
  const auto& x_mod = modulated.normed;
  const auto [v, mlp] = value_and_mlp(x_mod);
  const auto attended = attend(split_heads(q_proj(x_mod), k_proj(x_mod), v, norm, heads), rotary);
  return {modulated.stream, linear2(torch::cat({attended, mlp}, -1)), mod[2]};
}

LastLayerImpl::LastLayerImpl(int64_t dim, int64_t out_channels)
    : linear(register_module("linear", vidprobe::nn::Linear(dim, out_channels))),
      adaLN_modulation(register_module(
          "adaLN_modulation",
          torch::nn::Sequential(torch::nn::SiLU(), vidprobe::nn::Linear(dim, 2 * dim)))) {}

torch::Tensor LastLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& vec) {
  const auto shift_scale = adaLN_modulation->forward(vec).unsqueeze(1).chunk(2, -1);
  return linear(modulate({x}, shift_scale[0], shift_scale[1]).normed);
}

torch::Tensor pack_latents(const torch::Tensor& latents, int64_t p) {
  require(latents.dim() == 5 && latents.size(3) % p == 0 && latents.size(4) % p == 0,
          "Open-Sora: latents must be (B, C, T, H, W) with H and W divisible by " +
              std::to_string(p) + ", got " + c10::str(latents.sizes()));
  const int64_t b = latents.size(0), c = latents.size(1), t = latents.size(2);
  const int64_t h = latents.size(3) / p, w = latents.size(4) / p;
  return latents.reshape({b, c, t, h, p, w, p})
      .permute({0, 2, 3, 5, 1, 4, 6})
      .reshape({b, t * h * w, c * p * p});
}

torch::Tensor image_positions(int64_t batch, int64_t frames, int64_t rows, int64_t cols,
                              torch::Device device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto grid = torch::meshgrid(
      {torch::arange(frames, options), torch::arange(rows, options), torch::arange(cols, options)},
      "ij");
  return torch::stack({grid[0], grid[1], grid[2]}, -1)
      .reshape({1, frames * rows * cols, 3})
      .expand({batch, -1, -1});
}

torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(t.device());
  const auto freqs =
      torch::exp(-std::log(10000.0) * torch::arange(half, options) / static_cast<double>(half));
  // 1000 t in t's own dtype first, as the official embedding scales it (bf16 in the authors' run).
  const auto args = (1000.0 * t).to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::cos(args), torch::sin(args)}, -1);
}

MmditImpl::MmditImpl(const MmditConfig& c) : config(c) {
  config.validate("Open-Sora MMDiT config");
  const int64_t d = c.hidden_size;
  img_in = register_module("img_in", vidprobe::nn::Linear(c.in_channels, d));
  time_in = register_module("time_in", MlpEmbedder(kTimeEmbedDim, d));
  vector_in = register_module("vector_in", MlpEmbedder(c.vec_in_dim, d));
  if (c.cond_embed)
    cond_in = register_module("cond_in", vidprobe::nn::Linear(c.cond_channels(), d));
  txt_in = register_module("txt_in", vidprobe::nn::Linear(c.context_in_dim, d));
  double_blocks = register_module("double_blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth; ++i) double_blocks->push_back(DoubleStreamBlock(c));
  single_blocks = register_module("single_blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth_single_blocks; ++i) single_blocks->push_back(SingleStreamBlock(c));
  final_layer = register_module("final_layer", LastLayer(d, c.in_channels));
}

void MmditImpl::check_inputs(const MmditInputs& in) const {
  const auto& c = config;
  require(in.latents.dim() == 5 && in.latents.size(1) == c.latent_channels(),
          "Open-Sora MMDiT: latents must be (B, " + std::to_string(c.latent_channels()) +
              ", T, H, W), got " + c10::str(in.latents.sizes()));
  const int64_t b = in.latents.size(0);
  if (c.cond_embed) {
    auto cond_shape = in.latents.sizes().vec();
    cond_shape[1] += 1;
    require(in.cond.defined() && in.cond.sizes() == at::IntArrayRef(cond_shape),
            "Open-Sora MMDiT: the condition must be (B, C + 1, T, H, W) = " +
                c10::str(at::IntArrayRef(cond_shape)));
  }
  require(in.txt.dim() == 3 && in.txt.size(0) == b && in.txt.size(2) == c.context_in_dim,
          "Open-Sora MMDiT: txt must be (B, L, " + std::to_string(c.context_in_dim) + "), got " +
              c10::str(in.txt.sizes()));
  require(in.y_vec.dim() == 2 && in.y_vec.size(0) == b && in.y_vec.size(1) == c.vec_in_dim,
          "Open-Sora MMDiT: y_vec must be (B, " + std::to_string(c.vec_in_dim) + "), got " +
              c10::str(in.y_vec.sizes()));
  require(in.timesteps.dim() == 1 && in.timesteps.size(0) == b,
          "Open-Sora MMDiT: timesteps must be (B,), got " + c10::str(in.timesteps.sizes()));
}

nn::RotaryAngles MmditImpl::rotary_angles(int64_t batch, int64_t text_tokens,
                                          const std::vector<int64_t>& grid,
                                          torch::Device device) const {
  const auto text = torch::zeros({batch, text_tokens, 3},
                                 torch::TensorOptions().dtype(torch::kFloat32).device(device));
  const auto positions =
      torch::cat({text, image_positions(batch, grid[0], grid[1], grid[2], device)}, 1);
  return nn::rope_axes_split_halves(positions, config.axes_dim, config.theta);
}

MmditImpl::Outputs MmditImpl::run(const MmditInputs& in, const std::vector<int>& layers,
                                  bool with_prediction) {
  vidprobe::nn::ScopedStage stage(vidprobe::nn::kTransformerStage);
  check_inputs(in);
  for (const int layer : layers)
    require(layer >= 0 && layer < config.blocks(),
            "Open-Sora MMDiT: layer " + std::to_string(layer) + " out of range [0, " +
                std::to_string(config.blocks()) + ")");
  const int64_t p = config.patch_size, b = in.latents.size(0);
  const auto dtype = img_in->weight.scalar_type();
  Outputs out;
  out.grid = {in.latents.size(2), in.latents.size(3) / p, in.latents.size(4) / p};
  auto img = img_in(pack_latents(in.latents, p).to(dtype));
  if (config.cond_embed) img = img + cond_in(pack_latents(in.cond, p).to(dtype));
  auto vec = time_in(timestep_embedding(in.timesteps, kTimeEmbedDim).to(dtype)) +
             vector_in(in.y_vec.to(dtype));
  auto txt = txt_in(in.txt.to(dtype));
  const int64_t text_tokens = txt.size(1);
  const auto rotary = nn::in_dtype(rotary_angles(b, text_tokens, out.grid, img.device()), dtype);
  const int last = with_prediction
                       ? config.blocks() - 1
                       : (layers.empty() ? -1 : *std::max_element(layers.begin(), layers.end()));
  out.img.resize(layers.size());
  out.txt.resize(layers.size());
  // Each block hands on its streams with their last update pending (DoubleStreamBlock::Streams);
  // a stream is settled (nn::settle) only where it is kept, joined or read by the prediction.
  const auto kept = [&](int layer) {
    return std::find(layers.begin(), layers.end(), layer) != layers.end();
  };
  const auto keep = [&](int layer) {
    for (std::size_t i = 0; i < layers.size(); ++i)
      if (layers[i] == layer) {
        out.img[i] = img;
        out.txt[i] = txt;
      }
  };
  nn::ResidualUpdate img_pending{std::move(img)}, txt_pending{std::move(txt)};
  for (int i = 0; i < config.depth && i <= last; ++i) {
    auto streams = double_blocks[i]->as<DoubleStreamBlock>()->forward(
        std::move(img_pending), std::move(txt_pending), vec, rotary);
    img_pending = std::move(streams.img);
    txt_pending = std::move(streams.txt);
    if (!kept(i)) continue;
    img = nn::settle(img_pending);
    txt = nn::settle(txt_pending);
    keep(i);
  }
  nn::settle(img_pending);  // then moved out: the single blocks do not keep these streams alive
  nn::settle(txt_pending);
  img = std::move(img_pending.stream);
  txt = std::move(txt_pending.stream);
  if (last >= config.depth) {
    nn::ResidualUpdate joint{torch::cat({txt, img}, 1)};
    for (int i = 0; config.depth + i <= last; ++i) {
      joint = single_blocks[i]->as<SingleStreamBlock>()->forward(std::move(joint), vec, rotary);
      const bool final = config.depth + i == last;
      if (!kept(config.depth + i) && !final) continue;
      const auto& stream = nn::settle(joint);
      txt = stream.slice(1, 0, text_tokens);
      img = stream.slice(1, text_tokens);
      keep(config.depth + i);
    }
  }
  if (with_prediction) out.prediction = final_layer(img, vec);
  return out;
}

void load_mmdit(Mmdit& model, const TensorMap& checkpoint, const std::string& source) {
  const auto architecture = architecture_text(model->config);
  require_layout(checkpoint, mmdit_layout(model->config), source, architecture);
  load_module_strict(*model, checkpoint, source, architecture);
}

torch::Tensor MmditImpl::forward(const MmditInputs& inputs) {
  return run(inputs, {}, true).prediction;
}

}  // namespace vidprobe::backbones::opensora
