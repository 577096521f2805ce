// Larq Compute Engine's custom ops: LceQuantize, LceDequantize, LceBconv2d, LceBMaxPool2d.
#include <cmath>
#include <cstring>

#include "ops_util.h"

namespace lce_native {
namespace {

int popcount_word(Word x) {
  int n = 0;
  for (; x != 0; x &= x - 1) ++n;
  return n;
}

class Quantize : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    int8_ = in.type == DType::kInt8;
    if (int8_) {
      if (in.quant.scales.size() != 1) fail(*this, "input '" + in.name + "' has no single zero point");
      zero_point_ = in.quant.zero_points[0];
    } else {
      expect_type(*this, in, DType::kFloat32, "float32 or int8 (bool inputs are not supported)");
    }
    expect_type(*this, out, DType::kInt32, "int32 (bitpacked)");
    if (in.rank() < 1) fail(*this, "input '" + in.name + "' is a scalar");
    std::vector<int> shape = in.shape;
    channels_ = positive_dim(*this, in, -1, "channels");
    shape.back() = packed_words(channels_);
    expect_shape(*this, out, shape);
    rows_ = static_cast<int>(in.elements() / std::max(1, channels_));
  }
  void run(Model& m) override {
    Word* out = m.tensor(outputs[0]).data<Word>();
    const int c = channels_, words = packed_words(channels_);
    if (int8_) return bitpack_int8(m.tensor(inputs[0]).data<std::int8_t>(), out);
    const float* in = m.tensor(inputs[0]).data<float>();
    const auto bitpack = m.kernels().bitpack;
    m.pool().parallel_for(rows_, 64, [&](int b, int e) {
      bitpack(in + static_cast<size_t>(b) * c, e - b, c, out + static_cast<size_t>(b) * words);
    });
  }

 private:
  // An int8 value below the zero point (a negative real value) is bit 1, as in LCE.
  void bitpack_int8(const std::int8_t* in, Word* out) const {
    const int c = channels_, words = packed_words(channels_);
    for (int r = 0; r < rows_; ++r) {
      const std::int8_t* x = in + static_cast<size_t>(r) * c;
      Word* y = out + static_cast<size_t>(r) * words;
      std::fill(y, y + words, 0u);
      for (int i = 0; i < c; ++i)
        y[i / kWordBits] |= static_cast<Word>(x[i] < zero_point_) << (i % kWordBits);
    }
  }

  int channels_ = 0, rows_ = 0, zero_point_ = 0;
  bool int8_ = false;
};

class Dequantize : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    expect_type(*this, in, DType::kInt32, "int32 (bitpacked)");
    if (out.type == DType::kInt8) {
      // +-1 at the output's scale (LCE's DequantizeEval).
      if (out.quant.scales.size() != 1) fail(*this, "output '" + out.name + "' has no single scale");
      // Past 255 every +-1 saturates alike; the cap keeps a tiny scale's int exact.
      const int offset = static_cast<int>(std::min(256.0f, std::round(1.0f / out.quant.scales[0])));
      const int zero = out.quant.zero_points[0];
      plus_ = static_cast<std::int8_t>(std::min(127, zero + offset));
      minus_ = static_cast<std::int8_t>(std::max(-128, zero - offset));
    } else {
      expect_type(*this, out, DType::kFloat32, "float32 or int8 (bool outputs are not supported)");
    }
    if (out.rank() < 1) fail(*this, "output '" + out.name + "' is a scalar");
    // Every dimension, not only the last: the input is read row by row of the output.
    std::vector<int> packed = out.shape;
    packed.back() = packed_words(positive_dim(*this, out, -1, "channels"));
    expect_shape(*this, in, packed);
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    const int c = out.shape.back(), words = in.shape.back();
    const size_t rows = out.elements() / std::max(1, c);
    const Word* src = in.data<Word>();
    const auto bit = [&](size_t r, int i) { return (src[r * words + i / kWordBits] >> (i % kWordBits)) & 1u; };
    if (out.type == DType::kInt8) {
      std::int8_t* dst = out.data<std::int8_t>();
      for (size_t r = 0; r < rows; ++r)
        for (int i = 0; i < c; ++i) dst[r * c + i] = bit(r, i) ? minus_ : plus_;
      return;
    }
    float* dst = out.data<float>();
    for (size_t r = 0; r < rows; ++r)
      for (int i = 0; i < c; ++i) dst[r * c + i] = bit(r, i) ? -1.0f : 1.0f;
  }

 private:
  std::int8_t plus_ = 1, minus_ = -1;
};

class Bconv2d : public Op {
 public:
  void prepare(Model& m) override {
    if (inputs.size() != 5) fail(*this, "expects 5 inputs");
    const Tensor& in = m.input(*this, 0);
    const Tensor& filter = m.input(*this, 1);
    Tensor& out = m.output(*this, 0);
    expect_type(*this, in, DType::kInt32, "int32 (bitpacked)");
    expect_type(*this, filter, DType::kInt32, "int32 (bitpacked)");
    expect_rank(*this, in, 4);
    expect_rank(*this, filter, 4);
    expect_constant(*this, filter, "filter");
    cin_ = opt_int(*this, "channels_in");
    if (cin_ < 1) fail(*this, "channels_in must be >= 1");
    const int pad_values = opt_int(*this, "pad_values");
    if (pad_values != 0 && pad_values != 1) fail(*this, "pad_values must be 0 or 1");
    const int padding = opt_int(*this, "padding");
    act_ = opt_int(*this, "fused_activation_function");
    cout_ = positive_dim(*this, filter, 0, "output channels");
    const int cin_words = packed_words(cin_);
    if (in.dim(3) != cin_words)
      fail(*this, "channels_in does not match input '" + in.name + "'");
    const int group_words = filter.dim(3);
    if (group_words <= 0 || cin_words % group_words != 0) fail(*this, "bad filter depth");
    groups_ = cin_words / group_words;
    if (groups_ > 1 && (cin_ % groups_ != 0 || (cin_ / groups_) % kWordBits != 0 ||
                        cout_ % groups_ != 0))
      fail(*this, "grouped convolution needs 32-aligned groups");
    cin_group_ = cin_ / groups_;
    win_ = make_window(*this, in.dim(1), in.dim(2), filter.dim(1), filter.dim(2),
                       opt_int(*this, "stride_height"), opt_int(*this, "stride_width"),
                       opt_int(*this, "dilation_height_factor"),
                       opt_int(*this, "dilation_width_factor"), padding);
    zero_padding_ = padding == 0 && pad_values == 0;
    packed_out_ = out.type == DType::kInt32;
    int8_out_ = out.type == DType::kInt8;
    if (!packed_out_ && !int8_out_)
      expect_type(*this, out, DType::kFloat32, "float32, int8 or int32 (bitpacked)");
    if (int8_out_ && out.quant.scales.size() != 1)
      fail(*this, "output '" + out.name + "' has no single scale and zero point");
    expect_shape(*this, out,
                 {in.dim(0), win_.out_h, win_.out_w, packed_out_ ? packed_words(cout_) : cout_});
    if (zero_padding_ && (packed_out_ || int8_out_ || act_ != 0))
      fail(*this,
           "pad_values=0 with SAME padding needs float output and no fused activation "
           "(as in LCE)");
    k_words_ = win_.k_h * win_.k_w * group_words;  // the filter's own size bounds it
    // 2 * popcount over K bits must fit the int32 accumulator.
    if (static_cast<std::int64_t>(k_words_) * kWordBits > (1 << 29))
      fail(*this, "filter '" + filter.name + "' is too deep for the accumulator");
    rows_ = in.dim(0) * win_.out_h * win_.out_w;
    if (groups_ == 1) window_taps(m, *this, win_, in.dim(0), sizeof(Word*));
    m.charge(*this, (filter.elements() + static_cast<size_t>(k_words_) * kLanes) * sizeof(Word),
             "packed weights");

    const Word* f = filter.data<Word>();
    weights_ = pack_blocks(f, cout_, k_words_);

    const size_t padded = static_cast<size_t>(weights_.blocks()) * kLanes;
    if (packed_out_) {
      const Tensor& thr = tensor_input(m, 4, "thresholds");
      expect_type(*this, thr, DType::kInt32, "int32 thresholds");
      expect_constant(*this, thr, "thresholds");
      if (thr.elements() != static_cast<size_t>(cout_))
        fail(*this, "thresholds '" + thr.name + "' do not have one entry per output channel");
      thresholds_.assign(padded, 0);
      std::copy(thr.data<std::int32_t>(), thr.data<std::int32_t>() + cout_, thresholds_.begin());
    } else {
      const Tensor& mul = tensor_input(m, 2, "post_activation_multiplier");
      const Tensor& bias = tensor_input(m, 3, "post_activation_bias");
      for (const Tensor* t : {&mul, &bias}) {
        expect_type(*this, *t, DType::kFloat32, "float32");
        expect_constant(*this, *t, "post-activation multiplier/bias");
        if (t->elements() != static_cast<size_t>(cout_))
          fail(*this, "'" + t->name + "' does not have one entry per output channel");
      }
      // LCE's fused back-transformation: y = float(clamp(2*acc)) * (-m) + (b + K*m),
      // with the activation's clamp moved into the accumulator's domain.
      const int k_bits = win_.k_h * win_.k_w * cin_group_;
      mul_.assign(padded, 0.0f);
      bias_.assign(padded, 0.0f);
      post_mul_.assign(mul.data<float>(), mul.data<float>() + cout_);
      // An int8 output folds its scale and zero point in too, and is rounded from there.
      const double scale = int8_out_ ? out.quant.scales[0] : 1.0;
      const double zero = int8_out_ ? out.quant.zero_points[0] : 0.0;
      for (int o = 0; o < cout_; ++o) {
        const double pm = mul.data<float>()[o], pb = bias.data<float>()[o];
        mul_[o] = static_cast<float>(-1.0 * pm / scale);
        bias_[o] = static_cast<float>((pb + static_cast<double>(k_bits) * pm) / scale + zero);
      }
      if (int8_out_) {
        m.charge(*this, out.elements() * sizeof(float), "the int8 output's float rows");
        transformed_.assign(out.elements(), 0.0f);
      }
      std::int32_t lo = std::numeric_limits<std::int32_t>::lowest();
      std::int32_t hi = std::numeric_limits<std::int32_t>::max();
      if (act_ == 1) lo = 0;
      if (act_ == 2) lo = -1, hi = 1;
      if (act_ == 3) lo = 0, hi = 6;
      if (act_ < 0 || act_ > 3) fail(*this, "unsupported fused activation");
      lo = std::max(lo, -k_bits);
      hi = std::min(hi, k_bits);
      clamp_min_ = k_bits - hi;
      clamp_max_ = k_bits - lo;
    }
    if (zero_padding_) {
      // Sum of each filter tap's +-1 weights: what an outside tap wrongly contributes.
      m.charge(*this, static_cast<size_t>(win_.k_h) * win_.k_w * cout_ * sizeof(std::int32_t),
               "padding corrections");
      tap_sums_.assign(static_cast<size_t>(win_.k_h) * win_.k_w * cout_, 0);
      for (int o = 0; o < cout_; ++o)
        for (int t = 0; t < win_.k_h * win_.k_w; ++t) {
          int pop = 0;
          for (int c = 0; c < group_words; ++c)
            pop += popcount_word(f[(static_cast<size_t>(o) * win_.k_h * win_.k_w + t) *
                                       group_words + c]);
          tap_sums_[static_cast<size_t>(t) * cout_ + o] = cin_group_ - 2 * pop;
        }
    }
    if (groups_ == 1) {
      zeros_.assign(group_words, 0u);  // +1 padding: bit 0
      ind_ = make_indirection<Word>(in.data<Word>(), in.dim(0), win_, group_words, zeros_.data());
    }
  }

  bool fuse_add(Model& m, int residual, Clamp clamp) override {
    // Zero padding corrects the output after the transform, so the add cannot come first.
    const bool zero_padding = opt_int(*this, "padding") == 0 && opt_int(*this, "pad_values") == 0;
    const Tensor& filter = m.tensor(inputs.at(1));
    const bool grouped =
        filter.rank() == 4 && filter.dim(3) != packed_words(opt_int(*this, "channels_in"));
    if (zero_padding || grouped || m.tensor(outputs.at(0)).type != DType::kFloat32) return false;
    residual_ = residual;
    residual_clamp_ = clamp;
    return true;
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    if (groups_ > 1) return run_grouped(in, out);
    BgemmArgs g;
    g.ind = ind_.data();
    g.taps = win_.k_h * win_.k_w;
    g.depth = in.dim(3);
    g.k_words = k_words_;
    g.w = &weights_;
    g.channels_out = cout_;
    if (packed_out_) {
      g.thresholds = thresholds_.data();
      g.out_packed = out.data<Word>();
    } else {
      g.mul = mul_.data();
      g.bias = bias_.data();
      g.clamp_min = clamp_min_;
      g.clamp_max = clamp_max_;
      g.out_float = float_out(out);
      if (residual_ >= 0) {
        g.residual = m.tensor(residual_).data<float>();
        g.residual_clamp = residual_clamp_;
      }
    }
    const auto bgemm = m.kernels().bgemm;
    m.pool().parallel_for(rows_, 8, [&](int b, int e) { bgemm(g, b, e); });
    if (zero_padding_) correct_zero_padding(out.data<float>());
    if (int8_out_) round_to_int8(out);
  }

 private:
  // Where the output transform writes: the output, or float rows that become int8.
  float* float_out(Tensor& out) { return int8_out_ ? transformed_.data() : out.data<float>(); }

  void round_to_int8(Tensor& out) const {
    std::int8_t* y = out.data<std::int8_t>();
    for (size_t i = 0; i < transformed_.size(); ++i) {
      float v = transformed_[i];
      if (!(v >= -128.0f)) v = -128.0f;  // NaN too
      if (v > 127.0f) v = 127.0f;
      y[i] = static_cast<std::int8_t>(std::round(v));
    }
  }

  const Tensor& tensor_input(Model& m, size_t i, const char* what) {
    if (i >= inputs.size() || inputs[i] < 0) fail(*this, std::string("missing ") + what);
    return m.tensor(inputs[i]);
  }

  // The GEMM pads with +1 (bit 0); zero padding subtracts the outside taps' contribution.
  void correct_zero_padding(float* out) const {
    std::vector<std::int32_t> corr(cout_);
    for (int row = 0; row < rows_; ++row) {
      const int oy = (row / win_.out_w) % win_.out_h, ox = row % win_.out_w;
      bool any = false;
      std::fill(corr.begin(), corr.end(), 0);
      for (int ky = 0; ky < win_.k_h; ++ky)
        for (int kx = 0; kx < win_.k_w; ++kx) {
          const int iy = oy * win_.stride_h - win_.pad_top + ky * win_.dil_h;
          const int ix = ox * win_.stride_w - win_.pad_left + kx * win_.dil_w;
          if (iy >= 0 && iy < win_.in_h && ix >= 0 && ix < win_.in_w) continue;
          any = true;
          const std::int32_t* s = &tap_sums_[static_cast<size_t>(ky * win_.k_w + kx) * cout_];
          for (int o = 0; o < cout_; ++o) corr[o] += s[o];
        }
      if (!any) continue;
      float* dst = out + static_cast<size_t>(row) * cout_;
      for (int o = 0; o < cout_; ++o) dst[o] += -post_mul_[o] * static_cast<float>(corr[o]);
    }
  }

  // Grouped binary convolution: plain loops (rare in practice).
  void run_grouped(const Tensor& in, Tensor& out) {
    const int gw = cin_group_ / kWordBits, cwords = in.dim(3), per_group = cout_ / groups_;
    const Word* src = in.data<Word>();
    const int out_words = packed_words(cout_);
    for (int row = 0; row < rows_; ++row) {
      const int n = row / (win_.out_h * win_.out_w);
      const int oy = (row / win_.out_w) % win_.out_h, ox = row % win_.out_w;
      for (int o = 0; o < cout_; ++o) {
        const int grp = o / per_group;
        std::int32_t acc = 0;
        for (int ky = 0; ky < win_.k_h; ++ky)
          for (int kx = 0; kx < win_.k_w; ++kx) {
            const int iy = oy * win_.stride_h - win_.pad_top + ky * win_.dil_h;
            const int ix = ox * win_.stride_w - win_.pad_left + kx * win_.dil_w;
            const bool inside = iy >= 0 && iy < win_.in_h && ix >= 0 && ix < win_.in_w;
            for (int c = 0; c < gw; ++c) {
              const Word a =
                  inside ? src[((static_cast<size_t>(n) * win_.in_h + iy) * win_.in_w + ix) *
                                   cwords + grp * gw + c]
                         : 0u;
              const Word w = weights_.block(o / kLanes)[((ky * win_.k_w + kx) * gw + c) * kLanes +
                                                         o % kLanes];
              acc += popcount_word(a ^ w);
            }
          }
        if (packed_out_) {
          Word& dst = out.data<Word>()[static_cast<size_t>(row) * out_words + o / kWordBits];
          if (o % kWordBits == 0) dst = 0;
          dst |= static_cast<Word>(acc > thresholds_[o]) << (o % kWordBits);
        } else {
          const std::int32_t x = std::min(std::max(2 * acc, clamp_min_), clamp_max_);
          float_out(out)[static_cast<size_t>(row) * cout_ + o] =
              static_cast<float>(x) * mul_[o] + bias_[o];
        }
      }
    }
    if (zero_padding_) correct_zero_padding(out.data<float>());
    if (int8_out_) round_to_int8(out);
  }

  Window win_;
  int cin_ = 0, cin_group_ = 0, cout_ = 0, groups_ = 1, act_ = 0, k_words_ = 0, rows_ = 0;
  bool zero_padding_ = false, packed_out_ = false, int8_out_ = false;
  std::vector<float> transformed_;
  PackedBlocks<Word> weights_;
  std::vector<float> mul_, bias_, post_mul_;
  std::vector<std::int32_t> thresholds_, tap_sums_;
  std::int32_t clamp_min_ = 0, clamp_max_ = 0;
  std::vector<Word> zeros_;
  std::vector<const Word*> ind_;
  int residual_ = -1;
  Clamp residual_clamp_{};
};

class BMaxPool2d : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    expect_type(*this, in, DType::kInt32, "int32 (bitpacked)");
    expect_type(*this, out, DType::kInt32, "int32 (bitpacked)");
    win_ = pool_window(*this, in, out,
                       {"filter_height", "filter_width", "stride_height", "stride_width"});
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Word* dst = m.tensor(outputs[0]).data<Word>();
    const int c = in.dim(3);
    const Word* src = in.data<Word>();
    for (int n = 0; n < in.dim(0); ++n)
      for (int oy = 0; oy < win_.out_h; ++oy)
        for (int ox = 0; ox < win_.out_w; ++ox, dst += c) {
          // Max of +-1 values: -1 (bit 1) only where every valid input is -1.
          std::fill(dst, dst + c, ~Word(0));
          for (int ky = 0; ky < win_.k_h; ++ky)
            for (int kx = 0; kx < win_.k_w; ++kx) {
              const int iy = oy * win_.stride_h - win_.pad_top + ky;
              const int ix = ox * win_.stride_w - win_.pad_left + kx;
              if (iy < 0 || iy >= win_.in_h || ix < 0 || ix >= win_.in_w) continue;
              const Word* p = src + ((static_cast<size_t>(n) * win_.in_h + iy) * win_.in_w + ix) * c;
              for (int i = 0; i < c; ++i) dst[i] &= p[i];
            }
        }
  }

 private:
  Window win_;
};

}  // namespace

std::unique_ptr<Op> make_binary_op(const std::string& type) {
  if (type == "LceQuantize") return std::make_unique<Quantize>();
  if (type == "LceDequantize") return std::make_unique<Dequantize>();
  if (type == "LceBconv2d") return std::make_unique<Bconv2d>();
  if (type == "LceBMaxPool2d") return std::make_unique<BMaxPool2d>();
  return nullptr;
}

}  // namespace lce_native
